"""Read-only views of the database for `xltui status`, progress displays and the TUI.

Small functions taking an Engine and returning plain dataclasses, so the CLI and
the TUI show the same numbers and nothing on screen needs more than the DB.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from engine.spec import RunStatus
from engine.store import queue_reads
from engine.store.queue_reads import (  # noqa: F401 (re-exported: the Engine API names them)
    WORKER_STALE_S,
    LiveWorker,
    RunProgress,
    StudySummary,
    Waiting,
    estimate_eta,
)
from engine.store.reader import reading
from engine.store.schema import Artifact, Attempt, Result, Run, RunDependency, Study

Needed = aliased(Run)  # the run a dependency points at (RunDependency.needs_run_id)


def study_by_name(engine: Engine, name: str) -> Study | None:
    with Session(engine) as session:
        return session.exec(select(Study).where(Study.name == name)).first()


def list_runs(engine: Engine, *, study_id: int | None = None, statuses: tuple[str, ...] | None = None,
              ids: list[int] | None = None) -> list[Run]:
    query = select(Run).order_by(Run.id)
    if study_id is not None:
        query = query.where(Run.study_id == study_id)
    if statuses:
        query = query.where(Run.status.in_(statuses))
    if ids is not None:
        query = query.where(Run.id.in_(ids))
    with Session(engine) as session:
        return list(session.exec(query))


def progress_of(engine: Engine, runs: list) -> dict[int, RunProgress]:
    """Latest step, loss and dev score of each run's current attempt."""
    with reading(engine) as reader:
        return queue_reads.progress_of(reader, runs)


def study_summaries(engine: Engine, now: float | None = None) -> list[StudySummary]:
    """Per study: runs per status, mean duration of succeeded runs, and an ETA."""
    with reading(engine) as reader:
        return queue_reads.study_summaries(reader, now)


def waiting_runs(engine: Engine, study_id: int | None = None) -> list[Waiting]:
    """Queued runs with an unfinished dependency, and what they wait on."""
    with reading(engine) as reader:
        return queue_reads.waiting_runs(reader, study_id)


def live_workers(engine: Engine, now: float | None = None) -> list[LiveWorker]:
    """Worker slots not stopped whose heartbeat is fresh by the server's clock."""
    with reading(engine) as reader:
        return queue_reads.live_workers(reader, now)


def run_scores(engine: Engine, runs: list[Run], metric: str) -> dict[int, dict[tuple[str, str], float]]:
    """run id -> {(language, split): value} of one metric, from each run's latest attempt."""
    attempt_to_run = {r.attempt_id: r.id for r in runs if r.attempt_id is not None}
    out: dict[int, dict[tuple[str, str], float]] = {r.id: {} for r in runs}
    if not attempt_to_run:
        return out
    with Session(engine) as session:
        rows = session.exec(select(Result).where(Result.attempt_id.in_(list(attempt_to_run)),
                                                 Result.metric == metric)).all()
    for row in rows:
        out[attempt_to_run[row.attempt_id]][(row.language, row.split)] = row.value
    return out


def dependency_artifacts(engine: Engine, run_id: int, kind: str) -> dict[str, str]:
    """language -> artifact path of ``kind`` from the succeeded runs ``run_id`` depends on."""
    with Session(engine) as session:
        rows = session.exec(
            select(Artifact.language, Artifact.path)
            .join(Needed, Needed.attempt_id == Artifact.attempt_id)
            .join(RunDependency, RunDependency.needs_run_id == Needed.id)
            .where(RunDependency.run_id == run_id, Needed.status == RunStatus.SUCCEEDED, Artifact.kind == kind)
        ).all()
    return {lang: path for lang, path in rows}


def artifact_host(engine: Engine, path: str) -> tuple[int, str] | None:
    """(run id, host) of the attempt that wrote the artifact at ``path``: who to ask when it cannot be read."""
    with Session(engine) as session:
        row = session.exec(
            select(Artifact.run_id, Attempt.worker_id).join(Attempt, Attempt.id == Artifact.attempt_id)
            .where(Artifact.path == path).order_by(Artifact.id.desc())
        ).first()
    return None if row is None else (row[0], row[1].split(":", 1)[0])


# -- what the composer and the results screen ask ---------------------------------------------------

def known_hashes(engine: Engine, study: str) -> set[str]:
    """Spec hashes already in ``study``: engine.store.queue.enqueue leaves these alone (dedup is per study)."""
    with reading(engine) as reader:
        return set(queue_reads.runs_by_hash(reader, study))


@dataclass(frozen=True)
class Durations:
    """Mean seconds of succeeded runs per (model name, method, task), and over all of them."""

    by_key: dict[tuple[str, str, str], float]
    overall: float | None


def run_durations(engine: Engine) -> Durations:
    """One grouped query, cheap on thousands of runs."""
    took = Run.finished_at - Run.started_at
    done = (Run.status == RunStatus.SUCCEEDED, Run.started_at.is_not(None), Run.finished_at.is_not(None))
    with Session(engine) as session:
        rows = session.exec(select(Run.model_name, Run.method, Run.task, func.avg(took)).where(*done)
                            .group_by(Run.model_name, Run.method, Run.task)).all()
        overall = session.exec(select(func.avg(took)).where(*done)).first()
    by_key = {(m, meth, t): float(s) for m, meth, t, s in rows}
    return Durations(by_key, float(overall) if overall is not None else None)


def study_names(engine: Engine, skip: tuple[str, ...] = ()) -> list[str]:
    """Every study by name, except those in ``skip`` (e.g. the shared language-adapter study)."""
    with Session(engine) as session:
        return [n for n in session.exec(select(Study.name).order_by(Study.name)) if n not in skip]


def study_systems(engine: Engine, study: str) -> list[str]:
    """Model names of a study's runs, the `system` of its tables."""
    with Session(engine) as session:
        rows = session.exec(select(Run.model_name).join(Study, Study.id == Run.study_id)
                            .where(Study.name == study).distinct())
        return sorted(set(rows))



def train_scores(engine: Engine, metrics: tuple[str, ...]) -> list[tuple[str, dict[str, float]]]:
    """(spec JSON, {metric: value}) of every succeeded run's latest attempt, for those of ``metrics``
    it stored with its train split (its speed and memory: engine.training.loop.speed_stats)."""
    with Session(engine) as session:
        rows = session.exec(select(Run.id, Run.spec_json, Result.metric, Result.value)
                            .join(Result, Result.attempt_id == Run.attempt_id)
                            .where(Run.status == RunStatus.SUCCEEDED, Result.split == "train",
                                   Result.metric.in_(metrics))).all()
    runs: dict[int, tuple[str, dict[str, float]]] = {}
    for run_id, spec_json, metric, value in rows:
        runs.setdefault(run_id, (spec_json, {}))[1][metric] = value
    return list(runs.values())
