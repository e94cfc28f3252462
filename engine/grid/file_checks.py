"""The grid's runs checked against the contents of every data file they will read.

engine.grid.data_checks proves each file exists; this parses each one (engine.data.scan,
cached by content hash) before anything is queued, so a stray line in ``train.txt`` is
one message now instead of 126 failed runs later. It knows what each run reads: a
source language's train and dev split, a target's test split, a few-shot pool (the
target's train split, else its test file) and the task data a language adapter learns
from. And it checks what only makes sense across files: a K larger than its pool, a
split with no sentence, target tags the source label set lacks (with what
``labels.unknown`` will do about them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from engine.data.catalog import task_files
from engine.data.fewshot import pool_split
from engine.data.labels import OUTSIDE, relabel
from engine.data.refs import DataError, SplitFiles
from engine.data.scan import FileScan, Fmt, scan_file
from engine.grid.yamlfile import GridError, GridIssue
from engine.spec import RunSpec
from engine.tasks import TASKS

SHOWN_TAGS = 6  # unknown tags listed in one message


@dataclass(frozen=True)
class Use:
    """One file a run reads, and why (for the messages)."""

    path: Path
    fmt: Fmt
    what: str  # e.g. "swa test split (target)"


@dataclass
class FileReport:
    """Every problem found, as the CLI prints them: errors block queueing, warnings do not."""

    errors: list[GridIssue] = field(default_factory=list)
    warnings: list[GridIssue] = field(default_factory=list)
    files: int = 0

    def raise_errors(self) -> None:
        if self.errors:
            raise GridError(self.errors)


@lru_cache(maxsize=None)
def _files(task: str, ref: str, lang: str) -> SplitFiles:
    return task_files(task, ref, lang)


def _fmt(task: str) -> Fmt:
    return TASKS[task].data_format  # type: ignore[return-value]


def _split(spec: RunSpec, lang: str, split: str, role: str) -> Iterator[Use]:
    path = _files(spec.task, spec.data[lang], lang).get(split)
    if path is not None:
        yield Use(path, _fmt(spec.task), f"{lang} {split} split ({role})")


def fewshot_pool(spec: RunSpec, lang: str) -> tuple[str, Path | None]:
    """The split a few-shot run samples its K from (engine.training.fewshot.fewshot_split); a sentence task
    without one (reported by the grid's data check) has none."""
    files = _files(spec.task, spec.data[lang], lang)
    try:
        split = pool_split(files, spec.fewshot_pool, carve_test=TASKS[spec.task].head == "token")
    except DataError:
        return "train", None
    return split, files.get(split)


def _text_uses(spec: RunSpec) -> Iterator[Use]:
    """Task data a language adapter (MAD-X) learns from: train and dev of '<task>:<data>' text."""
    if spec.madx is None:
        return
    for lang in (x for x in spec.languages if x not in spec.madx.lang_adapter.pretrained):
        ref = spec.madx.lang_adapter.text.get(lang) or f"{spec.task}:{spec.data[lang]}"
        kind, _, data = ref.partition(":")
        if kind in TASKS:
            files = _files(kind, data, lang)
            yield from (Use(p, _fmt(kind), f"{lang} {s} split (language adapter text)")
                        for s in ("train", "dev") if (p := files.get(s)) is not None)


def uses(spec: RunSpec) -> Iterator[Use]:
    """Every file one run reads."""
    for lang in spec.source:
        for split in ("train", "dev"):
            yield from _split(spec, lang, split, "source")
    for lang in spec.targets:
        yield from _split(spec, lang, "test", "target")
        if spec.k is not None:
            split, path = fewshot_pool(spec, lang)
            if path is not None:
                yield Use(path, _fmt(spec.task), f"{lang} {split} split (few-shot pool)")
    yield from _text_uses(spec)


def _issue(path: Path, line: int | None, message: str) -> GridIssue:
    return GridIssue(str(path), line, "", message)


def _relabelled(tags: Iterable[str], mapping: dict[str, str]) -> dict[str, str]:
    return {t: relabel([t], mapping)[0][0] for t in tags}


def _label_check(spec: RunSpec, scans: dict[Path, FileScan], out: FileReport, seen: set) -> None:
    """Target test tags outside the source label set, named with what ``labels.unknown`` does."""
    mapping = spec.labels.map
    source: set[str] = {OUTSIDE}
    for lang in spec.source:
        path = _files(spec.task, spec.data[lang], lang).train
        if path is not None:
            source |= set(_relabelled(scans[path].tags, mapping).values())
    for lang in spec.targets:
        path = _files(spec.task, spec.data[lang], lang).test
        key = (path, frozenset(source), spec.labels.unknown, tuple(sorted(mapping.items())))
        if path is None or key in seen:
            continue
        seen.add(key)
        scan = scans[path]
        unknown: dict[str, int] = {}
        lines: list[int] = []
        for tag, new in _relabelled(scan.tags, mapping).items():
            if new not in source and not TASKS[spec.task].fixed_labels:
                unknown[new] = unknown.get(new, 0) + scan.tags[tag]
                lines.append(scan.first_line[tag])
        if not unknown:
            continue
        shown = ", ".join(f"{t} ({n})" for t, n in sorted(unknown.items(), key=lambda kv: -kv[1])[:SHOWN_TAGS])
        head = (f"{lang} test: {sum(unknown.values())} tags not in the source label set "
                f"({', '.join(sorted(source))}): {shown}; ")
        if spec.labels.unknown == "error":
            out.errors.append(_issue(path, min(lines), head + "labels.unknown: error stops the run — map them "
                                     f"with labels.map (e.g. {{{next(iter(unknown))}: O}}) or set labels.unknown: O"))
        else:
            out.warnings.append(_issue(path, min(lines), head + "labels.unknown: O scores them as O "
                                       "(counted per run as n_tags_mapped_to_O)"))


def _k_check(spec: RunSpec, scans: dict[Path, FileScan], out: FileReport, seen: set) -> None:
    """A few-shot K must leave the pool at least one sentence (engine.data.fewshot.sample_k); a sentence
    task's K is per class, so every class of its label set needs K in the pool."""
    task = TASKS[spec.task]
    for lang in spec.targets:
        split, path = fewshot_pool(spec, lang)
        if spec.k is None or path is None or (path, spec.k) in seen or scans[path].errors:
            continue
        seen.add((path, spec.k))
        if task.labels is not None:
            short = {c: scans[path].tags.get(c, 0) for c in task.labels if scans[path].tags.get(c, 0) < spec.k}
            if short:
                shown = ", ".join(f"{n} {c!r}" for c, n in short.items())
                out.errors.append(_issue(path, None, f"few-shot K={spec.k} per class for {lang} ({spec.model_name}): "
                                         f"the {split} split has only {shown} {task.unit}s"))
            continue
        n = scans[path].n_sentences
        if spec.k >= n:
            rest = "; the rest of this test file is the evaluation set" if split == "test" else ""
            out.errors.append(_issue(path, None, f"few-shot K={spec.k} for {lang} ({spec.model_name}): the "
                                     f"{split} split has {n} sentences, K must be less than {n}{rest}"))


def check_files(specs: Sequence[RunSpec]) -> FileReport:
    """Scan every file the runs read (each once) and check what spans files; nothing is raised."""
    _files.cache_clear()  # a long-lived app sees files added since its last check
    out = FileReport()
    scans: dict[Path, FileScan] = {}
    for spec in specs:
        for use in uses(spec):
            if use.path in scans:
                continue
            scan = scans[use.path] = scan_file(use.path, use.fmt)
            for p in scan.problems:
                (out.errors if p.severity == "error" else out.warnings).append(_issue(use.path, p.line, p.message))
            if scan.n_sentences == 0 and not scan.errors:
                out.errors.append(_issue(use.path, None, f"no sentences: the {use.what} is empty"))
    out.files = len(scans)
    seen_labels: set = set()
    seen_k: set = set()
    for spec in specs:
        if not any(scans[u.path].errors for u in uses(spec)):  # label sets of unreadable files mean nothing
            _label_check(spec, scans, out, seen_labels)
        _k_check(spec, scans, out, seen_k)
    return out
