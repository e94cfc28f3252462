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

from engine.data.conll import ConllError, OnError, Sentence, fail_on, text_lines

__all__ = ["UPOS_TAGS", "ConllError", "UDSentence", "iter_sentences", "read_conllu"]

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
        self.lines: list[int] = []  # line of each word
        self.range_end = 0  # last word covered by the latest multiword token
        self.range_line = 0  # and the line of that token
        self.broken = False  # a line of it was bad: its later lines would only repeat the error


def _line_problem(block: _Block, line: str, lineno: int) -> str | None:
    """What is wrong with one non-blank line of ``block`` (None: fine); a good line updates the block."""
    if line.startswith("#"):
        m = _SENT_ID.fullmatch(line.strip(_ASCII_WS))
        if m:
            if block.sent_id is not None:
                return "second sent_id in one sentence"
            sent_id = m.group(1).strip(_ASCII_WS)
            if not sent_id:
                return "empty sent_id"
            block.sent_id = sent_id
        return None
    cols = line.split("\t")
    if len(cols) != N_COLUMNS:
        hint = " (columns separated by spaces?)" if len(cols) == 1 and " " in line else ""
        return f"expected {N_COLUMNS} TAB-separated columns, got {len(cols)}{hint}"
    wid, form, upos = cols[0], cols[1], cols[3]
    last = len(block.tokens)
    if _WORD_ID.fullmatch(wid):
        if int(wid) != last + 1:
            return f"word ID {wid} out of order, expected {last + 1}"
        if not form:
            return "empty FORM"
        if upos in ("", "_"):
            return "no UPOS tag (column 4)"
        block.tokens.append(form)
        block.tags.append(upos)
    elif m := _RANGE_ID.fullmatch(wid):
        first, end = int(m.group(1)), int(m.group(2))
        if first >= end:
            return f"bad multiword token range {wid}"
        if block.range_end > last:
            return f"multiword token {wid} overlaps the one before (up to {block.range_end})"
        if first != last + 1:
            return f"multiword token {wid} must come right before word {first}"
        block.range_end, block.range_line = end, lineno
    elif m := _EMPTY_ID.fullmatch(wid):
        if int(m.group(1)) != last:
            return f"empty node {wid} must come right after word {m.group(1)}"
    else:
        return f"bad ID {wid!r}"
    return None


def _sentences(data: bytes, on_error: OnError) -> Iterator[_Block]:
    """Yield each sentence block that has no bad line; every bad line goes to ``on_error``."""
    block: _Block | None = None
    for lineno, raw in text_lines(data, on_error):
        if not raw.strip(_ASCII_WS):
            if block is not None and not block.broken:
                yield block
            block = None
            continue
        if block is None:
            block = _Block(lineno)
        if block.broken:
            continue
        n_words = len(block.tokens)
        problem = _line_problem(block, raw.rstrip("\n"), lineno)
        if problem is not None:
            block.broken = True
            on_error(lineno, f"{problem}: {raw.rstrip(chr(10))!r}")
        elif len(block.tokens) > n_words:
            block.lines.append(lineno)
    if block is not None and not block.broken:  # file without a final blank line
        yield block


def iter_sentences(path: Path, on_error: OnError | None = None,
                   data: bytes | None = None) -> Iterator[tuple[UDSentence, list[int]]]:
    """Each sentence with the line of each word; each problem goes to ``on_error`` (default: raise).

    ``sent_id`` comes from the ``# sent_id = ...`` comment, else it is ``"<file stem>:<i>"``
    with ``i`` the sentence's 0-based position in the file. A block of comments only
    (no sent_id, no word) is ignored.
    """
    on_error = on_error or fail_on(path)
    seen: dict[str, int] = {}
    n = 0
    for block in _sentences(path.read_bytes() if data is None else data, on_error):
        if not block.tokens:
            if block.sent_id is not None or block.range_end != 0:
                on_error(block.start, "sentence without words")
            continue  # else stray comments, e.g. a file header followed by a blank line
        if block.range_end > len(block.tokens):
            on_error(block.range_line, f"multiword token ends at word {block.range_end} "
                                       f"but the sentence has {len(block.tokens)} words")
            continue
        sent_id = block.sent_id if block.sent_id is not None else f"{path.stem}:{n}"
        if sent_id in seen:
            on_error(block.start, f"duplicate sent_id {sent_id!r} (first at line {seen[sent_id]})")
            continue
        seen[sent_id] = block.start
        n += 1
        yield UDSentence(tokens=tuple(block.tokens), tags=tuple(block.tags), sent_id=sent_id), block.lines


def read_conllu(path: str | Path, *, limit: int | None = None) -> list[UDSentence]:
    """Read the words and UPOS tags of a CoNLL-U file (the first ``limit`` sentences, if given)."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    out: list[UDSentence] = []
    if limit == 0:
        return out
    for sentence, _lines in iter_sentences(Path(path)):
        out.append(sentence)
        if limit is not None and len(out) >= limit:
            break  # stop reading: smoke runs should not pay for the whole file
    return out
