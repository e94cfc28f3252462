"""Tidy score rows read from the database: the one input of every table and figure.

A report can cover one study or several (our runs next to an imported published
study), so everything downstream works on plain rows — (system, task, setting,
language, seed, metric, value) — and never on ORM objects. Only a succeeded run's
latest attempt counts: an earlier attempt's results are kept in the database but
never mixed into a table.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from engine.states import RunStatus
from engine.store.reader import Reader, placeholders, reading, rows_in

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

FRACTION_METRICS = ("f1", "precision", "recall", "accuracy")  # stored as 0-1, shown as %


def is_fraction_metric(metric: str) -> bool:
    """f1, accuracy, f1:PER, ...: stored as fractions (like seqeval), shown as percentages."""
    return metric.split(":", 1)[0].removeprefix("macro_").removeprefix("weighted_") in FRACTION_METRICS


class ScoresError(ValueError):
    """The selection names something the database does not have (a study, a system)."""


@dataclass(frozen=True)
class Score:
    study: str
    system: str  # run.model_name (prefixed "study/" when two selected studies share the name)
    method: str
    task: str
    setting: str  # "zero-shot", "few-shot k=10", "in-language", ...
    language: str
    seed: int
    metric: str
    value: float
    run_id: int


@dataclass
class CellStatus:
    """How many runs of one (system, task, setting, language) cell are in each state."""

    counts: Counter = field(default_factory=Counter)

    @property
    def pending(self) -> int:
        return self.counts[RunStatus.QUEUED] + self.counts[RunStatus.RUNNING]

    @property
    def failed(self) -> int:
        return self.counts[RunStatus.FAILED]

    @property
    def expected(self) -> int:
        """Runs meant to produce a score here; a cancelled run was withdrawn on purpose."""
        return sum(n for status, n in self.counts.items() if status != RunStatus.CANCELLED)


CellKey = tuple[str, str, str, str]  # (system, task, setting, language)


@dataclass
class ScoreSet:
    studies: list[str]
    split: str
    scores: list[Score]
    status: dict[CellKey, CellStatus]
    run_ids: list[int]  # succeeded runs that contributed
    notes: list[str] = field(default_factory=list)  # plain-language caveats found while reading

    @property
    def systems(self) -> list[str]:
        return sorted({s.system for s in self.scores})

    @property
    def tasks(self) -> list[str]:
        return sorted({s.task for s in self.scores})


def setting_label(setting: str, spec: dict) -> str:
    """run.setting, with the few-shot budget when the spec records one: 'few-shot k=10'."""
    k = spec.get("k")
    return f"{setting} k={k}" if k is not None and f"k={k}" not in setting else setting


class _Run(NamedTuple):
    id: int
    study_id: int
    model_name: str
    method: str
    task: str
    setting: str
    seed: int
    targets: str
    status: str
    attempt_id: int | None
    spec_json: str


_RUN_COLUMNS = ", ".join(_Run._fields)


def resolve_studies(source: Engine | Reader, names: Sequence[str]) -> dict[str, int]:
    """study name -> id for ``names`` (in their order); an unknown name names the studies there are."""
    with reading(source) as reader:
        marks, params = placeholders("name", list(names))
        rows = dict(reader.rows(f"SELECT name, id FROM study WHERE name IN ({marks})", params))
        missing = [n for n in names if n not in rows]
        if missing:
            known = [n for (n,) in reader.rows("SELECT name FROM study ORDER BY name")]
            raise ScoresError(f"no study named {', '.join(map(repr, missing))}; "
                              f"studies: {', '.join(known) or '(none)'}")
    return {n: rows[n] for n in dict.fromkeys(names)}


def _system_names(runs: list[_Run], study_names: dict[int, str]) -> dict[int, str]:
    """run id -> system label; a model name used in two selected studies gets its study as prefix."""
    studies_of: dict[str, set[int]] = defaultdict(set)
    for r in runs:
        studies_of[r.model_name].add(r.study_id)
    return {r.id: (f"{study_names[r.study_id]}/{r.model_name}" if len(studies_of[r.model_name]) > 1
                   else r.model_name) for r in runs}


def _read_rows(reader: Reader, study_ids: list[int], split: str, tasks: Collection[str] | None,
               metrics: Collection[str] | None) -> tuple[list[_Run], list[tuple]]:
    """The studies' runs, and (attempt_id, language, metric, value) of their succeeded latest attempts."""
    marks, params = placeholders("study", study_ids)
    sql = f"SELECT {_RUN_COLUMNS} FROM run WHERE study_id IN ({marks})"
    if tasks:
        task_marks, task_params = placeholders("task", list(tasks))
        sql, params = sql + f" AND task IN ({task_marks})", {**params, **task_params}
    runs = [_Run(*row) for row in reader.rows(sql + " ORDER BY id", params)]
    attempt_ids = [r.attempt_id for r in runs if r.status == RunStatus.SUCCEEDED and r.attempt_id is not None]
    sql = "SELECT attempt_id, language, metric, value FROM result WHERE split = :split AND attempt_id IN ({in})"
    params = {"split": split}
    if metrics:
        metric_marks, metric_params = placeholders("metric", list(metrics))
        sql, params = sql + f" AND metric IN ({metric_marks})", {**params, **metric_params}
    return runs, rows_in(reader, sql + " ORDER BY run_id, id", attempt_ids, params)


def read_scores(source: Engine | Reader, studies: Sequence[str], *, split: str = "test",
                tasks: Collection[str] | None = None, metrics: Collection[str] | None = None) -> ScoreSet:
    """Score rows of the succeeded runs of ``studies`` plus per-cell run status counts.

    Two succeeded runs with the same (system, task, setting, language, seed, metric)
    (a study re-submitted with a changed grid) would be counted twice; the newer run
    wins and a note says which runs were set aside.
    """
    with reading(source) as reader:
        ids = resolve_studies(reader, studies)
        study_names = {i: name for name, i in ids.items()}
        runs, results = _read_rows(reader, list(study_names), split, tasks, metrics)
    names = _system_names(runs, study_names)
    by_attempt = {r.attempt_id: r for r in runs if r.status == RunStatus.SUCCEEDED}
    settings = {r.id: setting_label(r.setting, _spec(r)) for r in runs}

    status: dict[CellKey, CellStatus] = defaultdict(CellStatus)
    for r in runs:
        for lang in filter(None, r.targets.split(",")):
            status[(names[r.id], r.task, settings[r.id], lang)].counts[r.status] += 1

    chosen: dict[tuple, Score] = {}
    set_aside: set[int] = set()
    for attempt_id, language, metric, value in results:
        run = by_attempt[attempt_id]
        score = Score(study_names[run.study_id], names[run.id], run.method, run.task, settings[run.id],
                      language, run.seed, metric, value, run.id)
        key = (score.system, score.task, score.setting, score.language, score.seed, score.metric)
        if key in chosen:
            set_aside.add(chosen[key].run_id)
        chosen[key] = score
    notes = []
    if set_aside:
        notes.append(f"{len(set_aside)} older run(s) with the same system, setting, language and seed as a newer "
                     f"one were left out: {', '.join(map(str, sorted(set_aside)))}")
    scores = list(chosen.values())
    return ScoreSet(studies=list(ids), split=split, scores=scores, status=dict(status),
                    run_ids=sorted({s.run_id for s in scores}), notes=notes)


def _spec(run: _Run) -> dict:
    try:
        spec = json.loads(run.spec_json)
    except ValueError:
        return {}
    return spec if isinstance(spec, dict) else {}
