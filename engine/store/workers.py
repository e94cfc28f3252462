"""A worker slot's row in the workers table, as the slot itself writes and reads it.

Its heartbeat, state and current run (``heartbeat``), a stop someone asked of it through
the row (``stop_requested``; the request is engine.store.requests.request_worker_stop),
whether anything is left for it to do (``nothing_left``) and how its run stands now
(``run_status``). The queue's own transitions (claim, lease, finish) are engine.store.queue.
"""

from __future__ import annotations

from typing import Sequence

from sqlalchemy import case, func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from engine.spec import RunStatus, WorkerState
from engine.store.clock import db_now, server_time
from engine.store.schema import Run, Worker

__all__ = ["Worker", "heartbeat", "nothing_left", "run_status", "stop_requested"]


def heartbeat(engine: Engine, worker_id: str, state: WorkerState, run_id: int | None, *, device: str,
              job_id: str | None = None, job_index: int | None = None) -> None:
    """Say the slot ``worker_id`` (``host:pid:device``) is alive now, in ``state``, on ``run_id``; its
    row is made on its first beat (``device`` and the cluster job are written then).

    A ``stopping`` state someone else set (the app's stop request) is kept by every beat but
    the last (``stopped``), in one UPDATE that compares in the database (a CASE on the stored
    state), so a request made between two beats is never overwritten. The time stored is
    the database server's.
    """
    keep = state if state == WorkerState.STOPPED else case(
        (Worker.state == WorkerState.STOPPING, WorkerState.STOPPING), else_=state)
    with Session(engine) as session:
        n = session.exec(  # type: ignore[call-overload]
            update(Worker).where(Worker.id == worker_id)
            .values(heartbeat_at=server_time(), state=keep, current_run_id=run_id)
        ).rowcount
        if n == 0:
            host, pid, _ = worker_id.split(":", 2)
            at = db_now(session)
            session.add(Worker(id=worker_id, host=host, pid=int(pid), device=device, started_at=at,
                               heartbeat_at=at, state=state, current_run_id=run_id, job_id=job_id,
                               job_index=job_index))
        session.commit()


def stop_requested(engine: Engine, worker_id: str) -> bool:
    """Someone asked this slot to stop (its row says ``stopping``)."""
    with Session(engine) as session:
        row = session.get(Worker, worker_id)
        return row is not None and row.state == WorkerState.STOPPING


def nothing_left(engine: Engine, study_ids: Sequence[int] | None = None) -> bool:
    """Nothing left for a slot that exits when idle: no queued run it may take and, where it
    works for given studies only, none of theirs still running (a running one may fail and
    come back, or be the parent a queued few-shot run waits for)."""
    with Session(engine) as session:
        q = select(func.count()).select_from(Run).where(Run.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)))
        if study_ids is not None:
            q = q.where(Run.study_id.in_(study_ids))
        else:
            q = q.where(Run.status == RunStatus.QUEUED)
        return session.exec(q).one() == 0


def run_status(engine: Engine, run_id: int) -> RunStatus | None:
    """The run's status now; None if there is no such run."""
    with Session(engine) as session:
        run = session.get(Run, run_id)
        return RunStatus(run.status) if run is not None else None
