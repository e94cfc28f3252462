"""The worker jobs xltui submitted to a cluster, and what their workers did.

Slurm only starts and stops workers; what a job is *for* (its workers, the runs they
took) is in the database like everything else, so ``xltui slurm status`` and the app
show it without asking the cluster anything but the jobs' states.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from engine.spec import Outcome
from engine.store.clock import db_now, server_time
from engine.store.schema import Attempt, ClusterJob, Worker


@dataclass(frozen=True)
class SubmittedJob:
    job_id: str
    array_id: str
    job_index: int


@dataclass
class JobView:
    """A submitted job with its workers (one per start: a requeued job starts a new one) and their runs."""

    job: ClusterJob
    workers: list[Worker] = field(default_factory=list)
    runs_succeeded: int = 0
    runs_requeued: int = 0


def record_jobs(engine: Engine, jobs: Iterable[SubmittedJob], *, cluster: str, folder: str,
                partition: str | None, options: dict) -> None:
    """Remember jobs the cluster accepted (only after it did: a refused submission leaves no row)."""
    with Session(engine) as session:
        now = db_now(session)
        for j in jobs:
            session.add(ClusterJob(job_id=j.job_id, array_id=j.array_id, job_index=j.job_index, cluster=cluster,
                                   folder=folder, partition=partition, options=json.dumps(options, sort_keys=True),
                                   submitted_at=now))
        session.commit()


def job_views(engine: Engine, *, include_cancelled: bool = False) -> list[JobView]:
    """Every job xltui submitted (newest array first), with its workers and how many runs they finished."""
    with Session(engine) as session:
        query = select(ClusterJob).order_by(ClusterJob.submitted_at.desc(), ClusterJob.job_index)
        if not include_cancelled:
            query = query.where(ClusterJob.cancelled_at.is_(None))
        views = {j.job_id: JobView(j) for j in session.exec(query)}
        if not views:
            return []
        for w in session.exec(select(Worker).where(Worker.job_id.in_(list(views))).order_by(Worker.started_at)):
            views[w.job_id].workers.append(w)
        counts = session.exec(
            select(Worker.job_id, Attempt.outcome, func.count()).join(Worker, Worker.id == Attempt.worker_id)
            .where(Worker.job_id.in_(list(views))).group_by(Worker.job_id, Attempt.outcome)
        ).all()
    for job_id, outcome, n in counts:
        if outcome == Outcome.SUCCEEDED:
            views[job_id].runs_succeeded += n
        elif outcome == Outcome.REQUEUED:
            views[job_id].runs_requeued += n
    return list(views.values())


def mark_cancelled(engine: Engine, job_ids: Iterable[str]) -> int:
    with Session(engine) as session:
        n = session.exec(  # type: ignore[call-overload]
            update(ClusterJob).where(ClusterJob.job_id.in_(list(job_ids)), ClusterJob.cancelled_at.is_(None))
            .values(cancelled_at=server_time())
        ).rowcount
        session.commit()
    return n
