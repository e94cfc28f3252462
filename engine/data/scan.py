"""Every problem in one data file, found before anything is queued, and cached by content hash.

Files are scanned by data format (engine.tasks' ``data_format``): ``conll`` (NER), ``conllu``
(POS), ``labelled-text`` (sentiment: a TSV, or an XLM-T text file with its labels file).
The strict readers (engine.data.conll, engine.data.conllu, engine.data.sentiment) stop at the first bad line,
which is right inside a run but wrong before a study: a user wants every problem of
every file at once, not one per hour of queue. A scan runs the readers' own line checks
with a handler that collects instead of raising, then looks at what the readers accept
but a run would regret (tags that are not IOB2, an I- that continues nothing, a tag
outside the 17 UPOS). It also keeps what the grid checks need across files: sentence
count and tag counts with the first line of each tag (for labelled texts: the number of
texts and each label's count and first line).

A scan depends only on the bytes (of both files for an XLM-T pair), so it is stored under
``$XLTUI_CACHE/scans/`` keyed by their hash (path-free: messages get the path when shown); validating a grid again
reads each file once to hash it and parses nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from engine.data.conll import iter_blocks
from engine.data.conllu import UPOS_TAGS, iter_sentences
from engine.data.sentiment import iter_labelled, labels_file
from engine.settings import cache_root

FORMAT = 2  # bump when a check changes: older cached scans are then never reused
MAX_PROBLEMS = 20  # per file: a binary or wrongly formatted file would otherwise print thousands
SHOWN_LINES = 5  # line numbers listed for a repeated warning

Fmt = Literal["conll", "conllu", "labelled-text"]  # engine.tasks.TaskDef.data_format
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    line: int | None
    message: str
    severity: Severity = "error"


@dataclass
class FileScan:
    """What the grid's checks need from one file, without its sentences."""

    n_sentences: int = 0
    tags: dict[str, int] = field(default_factory=dict)  # tag -> occurrences
    first_line: dict[str, int] = field(default_factory=dict)  # tag -> the line it first appears on
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


class _Collector:
    """The readers' error handler: keep each problem, stop the file after MAX_PROBLEMS."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def __call__(self, line: int, message: str) -> None:
        self.problems.append(Problem(line, message))
        if len(self.problems) >= MAX_PROBLEMS:
            raise _TooMany


class _TooMany(Exception):
    """Ends a scan early; the file is wrong throughout."""


def _repeats(lines: list[int]) -> str:
    """`` (3 in this file: lines 4, 9, 12)`` for a problem found on several lines; nothing for one."""
    if len(lines) == 1:
        return ""
    more = ", …" if len(lines) > SHOWN_LINES else ""
    return f" ({len(lines)} in this file: lines {', '.join(map(str, lines[:SHOWN_LINES]))}{more})"


def _ner_checks(sentences: list[tuple[tuple[str, ...], list[int]]]) -> list[Problem]:
    """Tags that are not IOB2 (errors) and I- tags that continue nothing (kept as they are: warnings)."""
    not_iob2: dict[str, list[int]] = {}
    stray: dict[str, list[int]] = {}
    for tags, lines in sentences:
        prev = "O"
        for tag, line in zip(tags, lines):
            if tag != "O" and (tag[:2] not in ("B-", "I-") or len(tag) == 2):
                not_iob2.setdefault(tag, []).append(line)
            elif tag[:2] == "I-" and prev[2:] != tag[2:]:
                stray.setdefault(tag, []).append(line)
            prev = tag if tag[:2] in ("B-", "I-") else "O"
    out = [Problem(lines[0], f"tag {tag!r} is not IOB2 (O, B-TYPE or I-TYPE){_repeats(lines)}"
                             + ("; BIOES? convert the file to IOB2" if tag[:2] in ("E-", "S-") else ""))
           for tag, lines in not_iob2.items()]
    out += [Problem(lines[0], f"{tag} continues no {tag[2:]} entity{_repeats(lines)}: not repaired — training "
                              "learns the tag as it is, and strict IOB2 scoring (seqeval, the MasakhaNER "
                              "convention) counts no entity there", "warning")
            for tag, lines in stray.items()]
    return out


def _pos_checks(sentences: list[tuple[tuple[str, ...], list[int]]]) -> list[Problem]:
    """UPOS tags outside the universal 17 (warnings: a treebank's own tags still train)."""
    odd: dict[str, list[int]] = {}
    for tags, lines in sentences:
        for tag, line in zip(tags, lines):
            if tag not in UPOS_TAGS:
                odd.setdefault(tag, []).append(line)
    return [Problem(lines[0], f"UPOS tag {tag!r} is not one of the 17 universal POS tags{_repeats(lines)}",
                    "warning") for tag, lines in odd.items()]


def _tally(units: list[tuple[tuple[str, ...], list[int]]]) -> tuple[dict[str, int], dict[str, int]]:
    """Each tag's count and the line it first appears on."""
    tags: Counter[str] = Counter()
    first: dict[str, int] = {}
    for unit_tags, lines in units:
        tags.update(unit_tags)
        for tag, line in zip(unit_tags, lines):
            first.setdefault(tag, line)
    return dict(tags), first


def _labelled(data: bytes, path: Path, label_data: bytes | None, collect: _Collector) -> list[tuple[str, int]]:
    """(label, line) of each good text; the labels file's problems carry its name (a Problem has one line)."""
    gold = labels_file(path)
    on_label = None if gold is None else lambda line, message: collect(line, f"{gold.name}: {message}")
    return [(item.label, line) for line, item in iter_labelled(path, collect, data=data, label_data=label_data,
                                                               on_label_error=on_label)]


def scan_bytes(data: bytes, fmt: Fmt, path: Path, label_data: bytes | None = None) -> FileScan:
    """Scan one file's bytes (``path`` names it in the readers' sentence ids and finds an XLM-T labels
    file, whose bytes are ``label_data`` or read from disk)."""
    if fmt not in ("conll", "conllu", "labelled-text"):
        raise ValueError(f"unknown data format {fmt!r} (conll, conllu or labelled-text)")
    collect = _Collector()
    units: list[tuple[tuple[str, ...], list[int]]] = []
    if b"\0" in data and fmt != "labelled-text":  # labelled texts find it in their line checks
        line = data[:data.index(b"\0")].count(b"\n") + 1
        return FileScan(problems=[Problem(line, "a binary file (NUL byte), not "
                                                + ("CoNLL text" if fmt == "conll" else "CoNLL-U"))])
    try:
        if fmt == "conll":
            for block, lines in iter_blocks(path, 2, collect, data):
                units.append((tuple(f[1] for f in block), lines))
        elif fmt == "conllu":
            for sentence, lines in iter_sentences(path, collect, data):
                units.append((sentence.tags, lines))
        else:
            units = [((label,), [line]) for label, line in _labelled(data, path, label_data, collect)]
    except _TooMany:
        collect.problems.append(Problem(None, f"stopped after {MAX_PROBLEMS} problems", "error"))
    tags, first = _tally(units)
    checks = _ner_checks(units) if fmt == "conll" else _pos_checks(units) if fmt == "conllu" else []
    return FileScan(len(units), tags, first, collect.problems + checks)


# ----------------------------------------------------------------------------- cache

_memo: dict[tuple, FileScan] = {}  # (path, fmt, (size, mtime) of each file read): the composer checks often


def _key(parts: list[bytes], fmt: Fmt) -> str:
    digest = hashlib.sha256(f"{FORMAT}\0{fmt}\0{len(parts)}".encode())
    for data in parts:  # each part framed by its length: two files never hash as one
        digest.update(f"\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:32]


def _load(path: Path) -> FileScan | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # absent or half-written by a crashed writer: scan again
    return FileScan(raw["n_sentences"], raw["tags"], raw["first_line"], [Problem(**p) for p in raw["problems"]])


def _store(path: Path, scan: FileScan) -> None:
    """Write the entry whole or not at all (temporary name, then rename)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(asdict(scan)), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a full or read-only cache only costs the next check a parse


def scan_file(path: Path, fmt: Fmt) -> FileScan:
    """The scan of one data file (and an XLM-T text file's labels file), from the cache when its bytes
    were scanned before."""
    gold = labels_file(path) if fmt == "labelled-text" else None
    if gold is not None and not gold.is_file():
        return FileScan(problems=[Problem(None, f"no labels file {gold.name} beside it (XLM-T text needs one "
                                                "label per line there)")])
    files = [path] if gold is None else [path, gold]
    memo_key = (str(path), fmt, tuple((st.st_size, st.st_mtime_ns) for st in (p.stat() for p in files)))
    if (hit := _memo.get(memo_key)) is not None:
        return hit
    parts = [p.read_bytes() for p in files]
    entry = cache_root() / "scans" / f"{_key(parts, fmt)}.json"
    scan = _load(entry)
    if scan is None:
        scan = scan_bytes(parts[0], fmt, path, parts[1] if gold is not None else None)
        _store(entry, scan)
    _memo[memo_key] = scan
    return scan
