"""Reading CoNLL-U files (Universal Dependencies) for POS tagging: words and their UPOS tags.

A CoNLL-U line has 10 TAB-separated columns; we keep FORM (column 2) and UPOS
(column 4) of every *word* line (integer ID). Comment lines (``#``) are skipped, except
``# sent_id = ...`` which names the sentence; multiword-token range lines (``1-3``) are
skipped while the words they cover, which follow as their own lines, are kept; empty
nodes (``8.1``, enhanced-dependency ellipsis) are skipped.

Like engine.data.conll the reader is strict about content (a malformed line is a ConllError
naming ``path:line``: wrong column count, bad or out-of-order ID, empty FORM or UPOS, a
range not followed by its words, a duplicate sent_id) and lenient only about layout
(CRLF, BOM, several blank lines, missing final blank line). Only TAB separates columns:
a FORM may contain spaces.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from engine.data.conll import ConllError, Sentence

__all__ = ["UPOS_TAGS", "ConllError", "UDSentence", "read_conllu"]

# the 17 universal POS tags (https://universaldependencies.org/u/pos/)
UPOS_TAGS = (
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM",
    "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X",
)

N_COLUMNS = 10
_ASCII_WS = " \t\r\n\f\v"
_WORD_ID = re.compile(r"[1-9][0-9]*")
_RANGE_ID = re.compile(r"([1-9][0-9]*)-([1-9][0-9]*)")
_EMPTY_ID = re.compile(r"(0|[1-9][0-9]*)\.([1-9][0-9]*)")
_SENT_ID = re.compile(r"#\s*sent_id\s*=(.*)")


@dataclass(frozen=True)
class UDSentence(Sentence):
    """A Sentence (``tokens`` = FORMs, ``tags`` = UPOS) that also carries its ``sent_id``.

    A subclass of engine.data.conll.Sentence, so code written for NER sentences (tokens,
    tags, len, isinstance) takes it unchanged. ``sent_id`` is keyword-only.
    """

    sent_id: str = field(kw_only=True)


class _Block:
    """The sentence being read: its words so far and what the next lines may be."""

    def __init__(self, start: int) -> None:
        self.start = start  # line number of its first line
        self.sent_id: str | None = None
        self.tokens: list[str] = []
        self.tags: list[str] = []
        self.range_end = 0  # last word covered by the latest multiword token
        self.range_line = 0  # and the line of that token


def _sentences(path: Path) -> Iterator[_Block]:
    """Yield each sentence block, raising ConllError on bad lines."""
    block: _Block | None = None
    lineno = 0

    def fail(msg: str, raw: str) -> ConllError:
        return ConllError(f"{path}:{lineno}: {msg}: {raw.rstrip(chr(10))!r}")

    try:
        # utf-8-sig drops a BOM; text mode turns CRLF / CR into "\n"
        with open(path, encoding="utf-8-sig") as f:
            for lineno, raw in enumerate(f, start=1):
                if not raw.strip(_ASCII_WS):
                    if block is not None:
                        yield block
                        block = None
                    continue
                if block is None:
                    block = _Block(lineno)
                line = raw.rstrip("\n")
                if line.startswith("#"):
                    m = _SENT_ID.fullmatch(line.strip(_ASCII_WS))
                    if m:
                        if block.sent_id is not None:
                            raise fail("second sent_id in one sentence", raw)
                        sent_id = m.group(1).strip(_ASCII_WS)
                        if not sent_id:
                            raise fail("empty sent_id", raw)
                        block.sent_id = sent_id
                    continue
                cols = line.split("\t")
                if len(cols) != N_COLUMNS:
                    hint = " (columns separated by spaces?)" if len(cols) == 1 and " " in line else ""
                    raise fail(f"expected {N_COLUMNS} TAB-separated columns, got {len(cols)}{hint}", raw)
                wid, form, upos = cols[0], cols[1], cols[3]
                last = len(block.tokens)
                if _WORD_ID.fullmatch(wid):
                    if int(wid) != last + 1:
                        raise fail(f"word ID {wid} out of order, expected {last + 1}", raw)
                    if not form:
                        raise fail("empty FORM", raw)
                    if upos in ("", "_"):
                        raise fail("no UPOS tag (column 4)", raw)
                    block.tokens.append(form)
                    block.tags.append(upos)
                elif m := _RANGE_ID.fullmatch(wid):
                    first, end = int(m.group(1)), int(m.group(2))
                    if first >= end:
                        raise fail(f"bad multiword token range {wid}", raw)
                    if block.range_end > last:
                        raise fail(f"multiword token {wid} overlaps the one before (up to {block.range_end})", raw)
                    if first != last + 1:
                        raise fail(f"multiword token {wid} must come right before word {first}", raw)
                    block.range_end, block.range_line = end, lineno
                elif m := _EMPTY_ID.fullmatch(wid):
                    if int(m.group(1)) != last:
                        raise fail(f"empty node {wid} must come right after word {m.group(1)}", raw)
                else:
                    raise fail(f"bad ID {wid!r}", raw)
    except UnicodeDecodeError as e:
        raise ConllError(f"{path}:{lineno + 1}: not valid UTF-8 ({e.reason})") from e
    if block is not None:  # file without a final blank line
        yield block


def read_conllu(path: str | Path, *, limit: int | None = None) -> list[UDSentence]:
    """Read the words and UPOS tags of a CoNLL-U file (the first ``limit`` sentences, if given).

    ``sent_id`` comes from the ``# sent_id = ...`` comment, else it is ``"<file stem>:<i>"``
    with ``i`` the sentence's 0-based position in the file. A block of comments only
    (no sent_id, no word) is ignored.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    path = Path(path)
    out: list[UDSentence] = []
    if limit == 0:
        return out
    seen: dict[str, int] = {}
    for block in _sentences(path):
        if not block.tokens:
            if block.sent_id is None and block.range_end == 0:
                continue  # stray comments, e.g. a file header followed by a blank line
            raise ConllError(f"{path}:{block.start}: sentence without words")
        if block.range_end > len(block.tokens):
            raise ConllError(
                f"{path}:{block.range_line}: multiword token ends at word {block.range_end} "
                f"but the sentence has {len(block.tokens)} words"
            )
        sent_id = block.sent_id if block.sent_id is not None else f"{path.stem}:{len(out)}"
        if sent_id in seen:
            raise ConllError(f"{path}:{block.start}: duplicate sent_id {sent_id!r} (first at line {seen[sent_id]})")
        seen[sent_id] = block.start
        out.append(UDSentence(tokens=tuple(block.tokens), tags=tuple(block.tags), sent_id=sent_id))
        if limit is not None and len(out) >= limit:
            break  # stop reading: smoke runs should not pay for the whole file
    return out
