"""Published or external per-run results as an external study.

Baselines from a paper enter the database as ordinary succeeded runs (method
``external``) so they sit in the same tables and paired tests as our own runs.
The file is checked completely before anything is written, and the import is one
transaction: a bad file leaves the database as it was. Each run's spec is its row
identity (model, language, run, task, setting), so importing the same file twice
adds nothing.

Accepted CSV forms (header names are case-insensitive):
- wide: ``language, model, run|seed, <metric>, <metric>, ...`` (one column per metric)
- long: ``language, model, run|seed, metric, value``
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from engine.analysis.scores import is_fraction_metric
from engine.spec import RunStatus
from engine.store.schema import Attempt, Result, Run, Study

ID_COLUMNS = {"language": ("language", "lang"), "model": ("model", "system"), "run": ("run", "seed")}
MAX_ERRORS = 10


class ResultsFileError(ValueError):
    """A results file that cannot be imported; every line is ``file:line:column: message``."""


@dataclass
class ImportReport:
    study: str
    runs_new: int = 0
    runs_existing: int = 0
    results_new: int = 0
    models: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PublishedRun:
    """One row of a published-results CSV: a model's run on one language, with its metrics and
    the line it came from (messages name it)."""

    model: str
    language: str
    run: int
    line: int
    metrics: dict[str, float]


def read_results_csv(path: str | Path, *, percent: bool = False) -> list[PublishedRun]:
    """Parse and validate the whole file; raise ResultsFileError listing the bad cells."""
    path = Path(path)
    errors: list[str] = []
    err = lambda line, col, msg: errors.append(f"{path}:{line}:{col}: {msg}")
    try:
        fh = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ResultsFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader, [])]
        if not header:
            raise ResultsFileError(f"{path}:1:1: empty file (expected a header: language,model,run,f1,...)")
        col = {}
        for name, aliases in ID_COLUMNS.items():
            found = [i for i, h in enumerate(header) if h in aliases]
            if not found:
                errors.append(f"{path}:1:{len(header) + 1}: missing column {name!r} "
                              f"(accepted names: {', '.join(aliases)}; header: {','.join(header)})")
            else:
                col[name] = found[0]
        long_form = "metric" in header and "value" in header
        metric_cols = [] if long_form else [(i, h) for i, h in enumerate(header)
                                             if i not in col.values() and h]
        if not long_form and not errors and not metric_cols:
            errors.append(f"{path}:1:{len(header) + 1}: no metric columns (e.g. f1), "
                          "and no metric,value columns for the long form")
        if errors:
            raise ResultsFileError("\n".join(errors))
        rows: dict[tuple[str, str, int], PublishedRun] = {}
        seen: dict[tuple, int] = {}
        for fields in reader:
            line = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                err(line, min(len(fields), len(header)) + 1,
                    f"{len(fields)} fields, the header has {len(header)}")
                continue
            language, model = fields[col["language"]].strip(), fields[col["model"]].strip()
            for name in ("language", "model"):
                if not fields[col[name]].strip():
                    err(line, col[name] + 1, f"{name} is empty")
            run = _int(fields[col["run"]])
            if run is None:
                err(line, col["run"] + 1, f"run {fields[col['run']]!r} is not an integer")
            cells = ([(header.index("value"), fields[header.index("metric")].strip())] if long_form
                     else metric_cols)
            values: dict[str, float] = {}
            for i, metric in cells:
                if not metric:
                    err(line, header.index("metric") + 1, "metric is empty")
                    continue
                value = _value(fields[i], metric, percent)
                if isinstance(value, str):
                    err(line, i + 1, f"{metric}: {value}")
                else:
                    values[metric] = value
            if run is None or not language or not model:
                continue
            keys = [(language, model, run, m) for m in values] if long_form else [(language, model, run)]
            for key in keys:
                if key in seen:
                    what = "(language, model, run, metric)" if long_form else "(language, model, run)"
                    err(line, col["language"] + 1, f"duplicate {what} = ({', '.join(map(str, key))}), "
                                                   f"first at line {seen[key]}")
                else:
                    seen[key] = line
            row = rows.setdefault((language, model, run), PublishedRun(model, language, run, line, {}))
            row.metrics.update(values)
            if len(errors) > MAX_ERRORS:
                break
    if errors:
        more = f"\n(stopped after {MAX_ERRORS} errors)" if len(errors) > MAX_ERRORS else ""
        raise ResultsFileError("\n".join(errors[:MAX_ERRORS]) + more)
    if not rows:
        raise ResultsFileError(f"{path}:2:1: no result rows")
    return list(rows.values())


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def _value(text: str, metric: str, percent: bool) -> float | str:
    """The value, or a message saying what is wrong with it."""
    text = text.strip()
    if not text:
        return "empty value"
    try:
        value = float(text)
    except ValueError:
        return f"{text!r} is not a number"
    if not math.isfinite(value):
        return f"{text!r} is not a finite number"
    if is_fraction_metric(metric):
        top = 100.0 if percent else 1.0
        if not 0.0 <= value <= top:
            hint = "" if percent else " (percentages? pass --percent)"
            return f"{text} is outside [0, {top:g}]{hint}"
        if percent:
            value /= 100.0
    return value


def run_spec(model: str, language: str, run: int, task: str, setting: str) -> tuple[str, str]:
    """(spec_json, spec_hash) of an imported run: its identity only, so re-imports dedupe."""
    spec = {"external": True, "model_name": model, "language": language, "run": run, "task": task,
            "setting": setting, "method": "external"}
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return text, hashlib.sha256(text.encode()).hexdigest()[:16]


def import_results(engine: Engine, path: str | Path, *, study: str | None = None, task: str = "ner",
                   setting: str = "in-language", split: str = "test", percent: bool = False,
                   rows: list[PublishedRun] | None = None) -> ImportReport:
    """Import a results CSV as the external study ``study`` (default: the file's stem), atomically.

    ``rows`` (from read_results_csv) saves parsing the file again when it was checked already.
    """
    path = Path(path)
    rows = read_results_csv(path, percent=percent) if rows is None else rows
    name = study or path.stem
    now = time.time()
    report = ImportReport(study=name, models=sorted({r.model for r in rows}),
                          languages=sorted({r.language for r in rows}))
    with Session(engine) as session:
        row = session.exec(select(Study).where(Study.name == name)).first()
        if row is not None and not row.external:
            raise ResultsFileError(f"{path}: study {name!r} holds our own runs; import into another one (--study)")
        if row is None:
            row = Study(name=name, grid_path=str(path.resolve()), external=True, created_at=now)
            session.add(row)
            session.flush()
        existing = {r.spec_hash: r for r in session.exec(select(Run).where(Run.study_id == row.id))}
        stored = _stored_values(session, [r.attempt_id for r in existing.values() if r.attempt_id is not None])
        new_runs: list[tuple[Run, PublishedRun]] = []
        for r in rows:
            spec_json, spec_hash = run_spec(r.model, r.language, r.run, task, setting)
            old = existing.get(spec_hash)
            if old is not None:
                if stored.get(old.attempt_id) != {(r.language, split, m, v) for m, v in r.metrics.items()}:
                    raise ResultsFileError(f"{path}:{r.line}:1: ({r.language}, {r.model}, {r.run}) is already in "
                                           f"study {name!r} with other values; import into another study (--study)")
                report.runs_existing += 1
                continue
            run = Run(study_id=row.id, spec_hash=spec_hash, spec_json=spec_json, model_name=r.model,
                      method="external", task=task, setting=setting, seed=r.run,
                      source=r.language if setting == "in-language" else "", targets=r.language,
                      status=RunStatus.SUCCEEDED, attempts=1, max_attempts=1, created_at=now, started_at=now, finished_at=now)
            new_runs.append((run, r))
        session.add_all([run for run, _ in new_runs])
        session.flush()
        attempts = [Attempt(run_id=run.id, number=1, worker_id="import", device="external", started_at=now,
                            finished_at=now, outcome=RunStatus.SUCCEEDED) for run, _ in new_runs]
        session.add_all(attempts)
        session.flush()
        results = []
        for (run, r), attempt in zip(new_runs, attempts):
            run.attempt_id = attempt.id
            results += [dict(run_id=run.id, attempt_id=attempt.id, language=r.language, split=split, metric=m,
                             value=v) for m, v in r.metrics.items()]
        if results:
            session.execute(insert(Result), results)
        session.commit()
    report.runs_new, report.results_new = len(new_runs), len(results)
    return report


def _stored_values(session: Session, attempt_ids: list[int]) -> dict[int, set[tuple]]:
    out: dict[int, set[tuple]] = defaultdict(set)
    for i in range(0, len(attempt_ids), 500):
        for res in session.exec(select(Result).where(Result.attempt_id.in_(attempt_ids[i:i + 500]))):
            out[res.attempt_id].add((res.language, res.split, res.metric, res.value))
    return out
