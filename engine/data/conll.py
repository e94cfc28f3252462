"""Reading CoNLL-style NER files (``token TAG`` per line, blank line between sentences).

Experiments must never train or score on silently mangled data, so the reader is
strict about content (a malformed line is an error naming ``path:line``) and lenient
only about layout (CRLF, trailing blanks, missing final blank line, ``-DOCSTART-``).
Tokens may be any Unicode, so only ASCII space/tab separate fields: a token made of,
say, a no-break space or a zero-width space is kept as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ConllError", "Sentence", "read_blocks", "read_conll", "tag_set"]

DOCSTART = "-DOCSTART-"
_FIELD_SEP = re.compile(r"[ \t]+")
_ASCII_WS = " \t\r\n\f\v"


class ConllError(ValueError):
    """A CoNLL file that cannot be read; the message starts with ``path:line:``."""


@dataclass(frozen=True)
class Sentence:
    """One sentence: its tokens and their tags (same length, never empty from the reader)."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.tags):
            raise ValueError(f"{len(self.tokens)} tokens but {len(self.tags)} tags")

    def __len__(self) -> int:
        return len(self.tokens)


def _iter_blocks(path: Path, n_fields: int) -> Iterator[list[tuple[str, ...]]]:
    """Yield each sentence as a list of field tuples, raising ConllError on bad lines."""
    block: list[tuple[str, ...]] = []
    lineno = 0
    try:
        # utf-8-sig drops a BOM; text mode turns CRLF / CR into "\n" and splits on it only
        # (unlike str.splitlines, which would also split inside tokens on U+2028, U+0085...).
        with open(path, encoding="utf-8-sig") as f:
            for lineno, raw in enumerate(f, start=1):
                line = raw.strip(_ASCII_WS)
                if not line:
                    if block:
                        yield block
                        block = []
                    continue
                fields = tuple(_FIELD_SEP.split(line))
                if fields[0] == DOCSTART:
                    # document separator (CoNLL-2003 style), also ends any open sentence
                    if block:
                        yield block
                        block = []
                    continue
                if len(fields) != n_fields:
                    raise ConllError(
                        f"{path}:{lineno}: expected {n_fields} fields separated by a space or tab, "
                        f"got {len(fields)}: {raw.rstrip(chr(10))!r}"
                    )
                block.append(fields)
    except UnicodeDecodeError as e:
        raise ConllError(f"{path}:{lineno + 1}: not valid UTF-8 ({e.reason})") from e
    if block:  # file without a final blank line
        yield block


def read_blocks(path: str | Path, n_fields: int, *, limit: int | None = None) -> list[list[tuple[str, ...]]]:
    """Read a blank-line separated column file with exactly ``n_fields`` columns per line.

    Shared by the NER reader (2 columns) and the stored-predictions reader (3 columns)
    so both get the same layout tolerance and error messages.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    out: list[list[tuple[str, ...]]] = []
    if limit == 0:
        return out
    for block in _iter_blocks(Path(path), n_fields):
        out.append(block)
        if limit is not None and len(out) >= limit:
            break  # stop reading: smoke runs should not pay for the whole file
    return out


def read_conll(path: str | Path, *, limit: int | None = None) -> list[Sentence]:
    """Read a ``token TAG`` file into sentences (the first ``limit`` only, if given)."""
    return [
        Sentence(tokens=tuple(f[0] for f in block), tags=tuple(f[1] for f in block))
        for block in read_blocks(path, 2, limit=limit)
    ]


def tag_set(sentences: Iterable[Sentence]) -> list[str]:
    """All tags used, sorted with 'O' first (the label-id order the models use)."""
    tags: set[str] = set()
    for s in sentences:
        tags.update(s.tags)
    rest = sorted(tags - {"O"})
    return ["O", *rest] if "O" in tags else rest
