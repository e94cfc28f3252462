"""Reading CoNLL-style NER files (``token TAG`` per line, blank line between sentences).

Experiments must never train or score on silently mangled data, so the reader is
strict about content (a malformed line is an error naming ``path:line``) and lenient
only about layout (CRLF, trailing blanks, missing final blank line, ``-DOCSTART-``).
Tokens may be any Unicode, so only ASCII space/tab separate fields: a token made of,
say, a no-break space or a zero-width space is kept as it is.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ConllError", "OnError", "Sentence", "iter_blocks", "read_blocks", "read_conll", "tag_set", "text_lines"]

DOCSTART = "-DOCSTART-"
_FIELD_SEP = re.compile(r"[ \t]+")
_ASCII_WS = " \t\r\n\f\v"
_SURROGATE = re.compile("[\udc80-\udcff]")  # where surrogateescape put a byte that is not UTF-8
OnError = Callable[[int, str], None]  # (line number, message): raise, or collect and go on


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


def fail_on(path: Path) -> OnError:
    """The strict readers' handler: the first problem is a ConllError naming ``path:line``."""

    def fail(lineno: int, message: str) -> None:
        raise ConllError(f"{path}:{lineno}: {message}")

    return fail


def text_lines(data: bytes, on_error: OnError) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of UTF-8 bytes, the BOM dropped and CRLF / CR read as line ends.

    Universal newlines split on CR and LF only (str.splitlines would also split inside
    tokens on U+2028, U+0085...). A line holding bytes that are not UTF-8 is reported with
    the first bad byte and its column, then skipped: decoding the whole file first keeps
    the common, valid case at C speed.
    """
    try:
        text, bad = data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        text, bad = data.decode("utf-8-sig", errors="surrogateescape"), _SURROGATE
    for lineno, line in enumerate(io.StringIO(text, newline=None), start=1):
        if bad is not None and (m := bad.search(line)):
            on_error(lineno, f"not valid UTF-8 (byte 0x{ord(m.group()) - 0xDC00:02x} at column {m.start() + 1})")
            continue
        yield lineno, line


def iter_blocks(path: Path, n_fields: int, on_error: OnError | None = None,
                data: bytes | None = None) -> Iterator[tuple[list[tuple[str, ...]], list[int]]]:
    """Each sentence as its field tuples and their line numbers; each bad line goes to ``on_error``.

    The strict readers raise on the first problem; the grid's data check passes a handler
    that collects every one (and skips the line) so a user sees them all before queueing.
    """
    on_error = on_error or fail_on(path)
    block: list[tuple[str, ...]] = []
    lines: list[int] = []
    for lineno, raw in text_lines(path.read_bytes() if data is None else data, on_error):
        line = raw.strip(_ASCII_WS)
        if not line:
            if block:
                yield block, lines
                block, lines = [], []
            continue
        fields = tuple(_FIELD_SEP.split(line))
        if fields[0] == DOCSTART:
            # document separator (CoNLL-2003 style), also ends any open sentence
            if block:
                yield block, lines
                block, lines = [], []
            continue
        if len(fields) != n_fields:
            on_error(lineno, f"expected {n_fields} fields separated by a space or tab, "
                             f"got {len(fields)}: {raw.rstrip(chr(10))!r}")
            continue
        block.append(fields)
        lines.append(lineno)
    if block:  # file without a final blank line
        yield block, lines


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
    for block, _lines in iter_blocks(Path(path), n_fields):
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
