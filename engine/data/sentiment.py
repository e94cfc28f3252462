"""Labelled texts for sentence classification (AfriSenti tweets, XLM-T English tweets): reading and
checking them, and which file of a folder is which split (engine.data.catalog resolves a
sentiment reference to that folder; this module imports no resolver, so the Hugging Face
converter, engine.data.hf_sentiment, can use its cleaning without a cycle).

Two layouts are read. AfriSenti's ``<split>.tsv``: a header ``tweet<TAB>label`` (Oromo's dev and
test: ``ID<TAB>tweet<TAB>label``), then one tweet per line. XLM-T's ``<split>_text.txt``: one
tweet per line, its label (an integer, the index in the label set) on the same line of the
sibling ``<split>_labels.txt``; its text keeps literal ``\\uXXXX`` escapes and CSV quoting, which
are undone here so a model sees the tweet as written.

As with engine.data.conll, every line check runs through an ``on_error(line, message)`` handler:
the strict reader raises a DataError naming ``path:line`` at the first problem, the grid's file
scan (engine.data.scan) collects every one. A text never keeps a TAB or a line break, because
predictions and the cached files written from Hugging Face data are one text per line.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.data.conll import OnError, text_lines
from engine.data.refs import DataError
from engine.tasks import TASKS

__all__ = ["LABELS", "LabelledText", "clean_text", "has_texts", "iter_labelled", "labels_file", "read_labelled",
           "split_file", "xlmt_text"]

LABELS: tuple[str, ...] = TASKS["sentiment"].labels or ()  # the label set a file is checked against
XLMT_TEXT, XLMT_LABELS = "_text.txt", "_labels.txt"
XLMT_SPLIT_NAMES = {"train": ("train",), "dev": ("val", "dev"), "test": ("test",)}  # XLM-T calls dev 'val'
HEADERS = {("tweet", "label"): False, ("id", "tweet", "label"): True}  # lower-cased header -> has an ID column
HEADER_HINT = "'tweet<TAB>label' (or 'ID<TAB>tweet<TAB>label')"
_ASCII_WS = " \t\r\n\f\v"
# a TAB, a NUL or anything str.splitlines breaks a line on would split one text into two lines or fields
_BREAKS = str.maketrans({c: " " for c in "\t\n\r\v\f\0\x1c\x1d\x1e\x85\u2028\u2029"})
_ESCAPE = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})|\\u([0-9a-f]{4})", re.IGNORECASE)


@dataclass(frozen=True)
class LabelledText:
    """One text and its label; ``id`` is the file's ID column, else ``line:N`` (its line in the text file)."""

    text: str
    label: str
    id: str


def clean_text(text: str) -> str:
    """``text`` on one line: TABs and line breaks become spaces, surrounding whitespace goes."""
    return text.translate(_BREAKS).strip(_ASCII_WS)


def _unescape(m: re.Match[str]) -> str:
    if m.group(3) is None:  # a surrogate pair: one character outside the BMP
        high, low = int(m.group(1), 16), int(m.group(2), 16)
        return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    code = int(m.group(3), 16)
    return m.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)  # a lone surrogate could not be written


def xlmt_text(line: str) -> str:
    """One XLM-T line as the tweet: CSV quoting undone, ``\\uXXXX`` escapes decoded, on one line.

    The outer quotes go only when the line both starts and ends with one (after trailing
    whitespace), and only then are doubled quotes single; other backslashes stay as they are.
    """
    line = line.rstrip()
    if len(line) >= 2 and line[0] == '"' and line[-1] == '"':
        line = line[1:-1].replace('""', '"')
    return clean_text(_ESCAPE.sub(_unescape, line))


def labels_file(path: Path) -> Path | None:
    """The ``*_labels.txt`` beside an XLM-T ``*_text.txt`` file; None for any other file (a TSV)."""
    if not path.name.endswith(XLMT_TEXT):
        return None
    return path.with_name(path.name[: -len(XLMT_TEXT)] + XLMT_LABELS)


def _lines(data: bytes, on_error: OnError) -> Iterator[tuple[int, str]]:
    """text_lines without the line end, stopping at a NUL byte: a binary file is one problem, not thousands."""
    for lineno, line in text_lines(data, on_error):
        if "\0" in line:
            on_error(lineno, "NUL byte: a binary file, not text")
            return
        yield lineno, line.rstrip("\n")


def _content_lines(data: bytes) -> int:
    """The number of lines up to the last non-blank one (blank lines at the end are layout)."""
    text = data.decode("utf-8-sig", errors="surrogateescape")
    lines = io.StringIO(text, newline=None).readlines()
    return next((n for n in range(len(lines), 0, -1) if lines[n - 1].strip(_ASCII_WS)), 0)


def _header(line: str) -> bool | None:
    """Whether a header line has an ID column; None when the line is no header."""
    return HEADERS.get(tuple(f.strip(_ASCII_WS).lower() for f in line.split("\t")))


def _tsv(data: bytes, labels: Sequence[str], on_error: OnError) -> Iterator[tuple[int, LabelledText]]:
    has_id: bool | None = None
    rows = 0  # data lines seen, good or bad
    first_id: dict[str, int] = {}
    for lineno, line in _lines(data, on_error):
        if has_id is None:
            has_id = _header(line) if lineno == 1 else None
            if has_id is not None:
                continue
            if lineno == 1:  # line 1 unreadable was reported by text_lines already
                on_error(1, f"expected the header {HEADER_HINT}, found {line[:80]!r}")
            has_id = len(line.split("\t")) == 3  # read on as the layout the line has
        if not line.strip(_ASCII_WS):
            continue  # a blank line is layout
        rows += 1
        fields = line.split("\t")
        want = 3 if has_id else 2
        if len(fields) != want:
            on_error(lineno, f"expected {want} TAB-separated fields ({'ID, ' if has_id else ''}tweet, label), "
                             f"found {len(fields)}")
            continue
        text, label = clean_text(fields[-2]), fields[-1].strip(_ASCII_WS)
        text_id = fields[0].strip(_ASCII_WS) if has_id else f"line:{lineno}"
        if not text:
            on_error(lineno, "empty tweet")
        elif label not in labels:
            on_error(lineno, f"label {label!r} is not one of {', '.join(labels)}")
        elif not text_id:
            on_error(lineno, "empty ID")
        elif text_id in first_id:
            on_error(lineno, f"duplicate ID {text_id!r} (first on line {first_id[text_id]})")
        else:
            first_id[text_id] = lineno
            yield lineno, LabelledText(text, label, text_id)
    if not data.strip():
        on_error(1, f"empty file: expected the header {HEADER_HINT}")
    elif has_id is not None and rows == 0 and b"\0" not in data:
        on_error(1, "no texts: the file holds only its header")


class _Gold:
    """The labels file read alongside the text file, line by line; each bad label goes to ``on_error``."""

    def __init__(self, data: bytes, n_lines: int, labels: Sequence[str], on_error: OnError) -> None:
        self._lines = _lines(data, on_error)
        self._n, self._labels, self._on_error = n_lines, labels, on_error
        self._read = 0  # labels-file lines parsed so far
        self._gold: dict[int, str] = {}

    def at(self, lineno: int) -> str | None:
        """The label on ``lineno`` (None: none there, or a bad one, already reported)."""
        while self._read < min(lineno, self._n):
            number, value = next(self._lines, (self._n, None))
            self._read = number
            if value is None or number > self._n:
                break
            value = value.strip(_ASCII_WS)
            if value.isascii() and value.isdigit() and int(value) < len(self._labels):
                self._gold[number] = self._labels[int(value)]
            else:
                names = ", ".join(f"{i} = {name}" for i, name in enumerate(self._labels))
                self._on_error(number, f"label {value!r} is not an integer 0..{len(self._labels) - 1} ({names})")
        return self._gold.pop(lineno, None)


def _xlmt(path: Path, data: bytes, gold_path: Path, gold_data: bytes, labels: Sequence[str], on_error: OnError,
          on_gold_error: OnError) -> Iterator[tuple[int, LabelledText]]:
    n_text, n_gold = _content_lines(data), _content_lines(gold_data)
    if n_text == 0:
        on_error(1, "empty file: no texts")
        return
    if n_text != n_gold:
        on_error(min(n_text, n_gold) + 1, f"{path.name} has {n_text} lines but {gold_path.name} has {n_gold}: "
                                          "each text needs its label on the same line")
    gold = _Gold(gold_data, n_gold, labels, on_gold_error)
    for lineno, line in _lines(data, on_error):
        if lineno > n_text:
            break
        text = xlmt_text(line)
        label = gold.at(lineno)
        if not text:
            on_error(lineno, "empty tweet")
        elif label is not None:
            yield lineno, LabelledText(text, label, f"line:{lineno}")
    gold.at(n_gold)  # the labels past the last readable text line are checked too


def iter_labelled(path: Path, on_error: OnError, *, labels: Sequence[str] = LABELS, data: bytes | None = None,
                  label_data: bytes | None = None, on_label_error: OnError | None = None,
                  ) -> Iterator[tuple[int, LabelledText]]:
    """Each good text of a TSV or XLM-T file with its line; each problem goes to ``on_error``.

    For an XLM-T ``*_text.txt`` the labels file's problems go to ``on_label_error`` (default
    ``on_error``) with that file's line numbers; its bytes are ``label_data`` or read from disk
    (a missing labels file is the caller's to report: FileNotFoundError here).
    """
    data = path.read_bytes() if data is None else data
    gold_path = labels_file(path)
    if gold_path is None:
        yield from _tsv(data, labels, on_error)
        return
    gold_data = gold_path.read_bytes() if label_data is None else label_data
    yield from _xlmt(path, data, gold_path, gold_data, labels, on_error, on_label_error or on_error)


def _fail(path: Path) -> OnError:
    def fail(lineno: int, message: str) -> None:
        raise DataError(f"{path}:{lineno}: {message}")

    return fail


def read_labelled(path: str | Path, *, limit: int | None = None,
                  labels: Sequence[str] = LABELS) -> list[LabelledText]:
    """Every text of a TSV or XLM-T file (the first ``limit`` only, if given); DataError at the first problem."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    path = Path(path)
    gold_path = labels_file(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        label_data = gold_path.read_bytes() if gold_path is not None else None
    except OSError as exc:
        raise DataError(f"{path}: no labels file {gold_path} ({exc.strerror})") from None
    out: list[LabelledText] = []
    if limit == 0:
        return out
    fail_labels = _fail(gold_path) if gold_path is not None else None
    for _line, item in iter_labelled(path, _fail(path), labels=labels, data=data, label_data=label_data,
                                     on_label_error=fail_labels):
        out.append(item)
        if limit is not None and len(out) >= limit:
            break  # smoke runs should not pay for the whole file
    return out


def has_texts(path: Path) -> bool:
    """Whether a split file holds texts, not just a TSV header (AfriSenti's Oromo and Tigrinya train.tsv):
    a header alone is no split, so a run says "no training tweets" rather than "0 texts read"."""
    if labels_file(path) is not None:
        return True  # XLM-T text has no header; an empty one is the scan's to report
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    lines = [ln for ln in io.StringIO(head.decode("utf-8-sig", errors="replace"), newline=None)
             if ln.strip(_ASCII_WS)]
    return len(head) == 1 << 16 or len(lines) != 1 or _header(lines[0].rstrip("\n")) is None


def split_file(folder: Path, split: str) -> Path | None:
    """A folder's file of one split, ``<split>.tsv`` or XLM-T's ``<split>_text.txt`` (dev: ``val``), if it
    holds texts; DataError for XLM-T text without its labels file."""
    names = [f"{split}.tsv", *(f"{n}{XLMT_TEXT}" for n in XLMT_SPLIT_NAMES[split])]
    path = next((folder / n for n in names if (folder / n).is_file()), None)
    if path is None or not has_texts(path):
        return None
    gold = labels_file(path)
    if gold is not None and not gold.is_file():
        raise DataError(f"{path}: no labels file {gold.name} beside it (XLM-T text needs one label per line there)")
    return path
