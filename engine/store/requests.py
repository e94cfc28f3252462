"""What users ask of the queue from the CLI and the app: cancel, retry, priority, stop a worker.

Compare-and-set UPDATEs like every queue transition (engine.store.queue), so a
request that races a worker either wins whole or is refused, and says which.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from engine.spec import RunStatus, WorkerState
from engine.store.clock import server_time
from engine.store.schema import Run, Worker


@dataclass(frozen=True)
class Transition:
    """What a user's cancel or retry did to one run: it moved from ``was`` to ``target``, or not."""

    run_id: int
    was: RunStatus | None  # None: no such run
    target: RunStatus
    changed: bool
    allowed: tuple[RunStatus, ...] = ()

    @property
    def message(self) -> str:
        if self.was is None:
            return "no such run"
        if self.changed:
            return f"{self.was} → {self.target}"
        return f"is {self.was}; only {' or '.join(self.allowed)} runs can become {self.target}"


def cancel(engine: Engine, run_ids: Iterable[int]) -> dict[int, Transition]:
    """Cancel queued or running runs; a running one is stopped by its worker's next heartbeat."""
    return _transition(engine, run_ids, (RunStatus.QUEUED, RunStatus.RUNNING), RunStatus.CANCELLED)


def retry(engine: Engine, run_ids: Iterable[int]) -> dict[int, Transition]:
    """Queue failed or cancelled runs again with a fresh attempt budget."""
    return _transition(engine, run_ids, (RunStatus.FAILED, RunStatus.CANCELLED), RunStatus.QUEUED)


def _transition(engine: Engine, run_ids: Iterable[int], allowed: tuple[RunStatus, ...],
                target: RunStatus) -> dict[int, Transition]:
    """Compare-and-set each run from one of ``allowed`` to ``target``; say what happened."""
    done: dict[int, Transition] = {}
    for run_id in run_ids:
        with Session(engine) as session:
            run = session.get(Run, run_id)
            if run is None:
                done[run_id] = Transition(run_id, None, target, False, allowed)
                continue
            was = RunStatus(run.status)
            values: dict = dict(status=target, lease_expires_at=None)
            if target == RunStatus.QUEUED:
                values.update(error=None, worker_id=None, finished_at=None, retry_base=Run.attempts)
            else:
                values.update(finished_at=server_time(), error=f"cancelled while {was}")
            n = session.exec(  # type: ignore[call-overload]
                update(Run).where(Run.id == run_id, Run.status == was, Run.status.in_(allowed)).values(**values)
            ).rowcount
            session.commit()
        done[run_id] = Transition(run_id, was, target, n == 1, allowed)
    return done


def set_priority(engine: Engine, run_ids: Iterable[int], priority: int) -> int:
    with Session(engine) as session:
        n = session.exec(  # type: ignore[call-overload]
            update(Run).where(Run.id.in_(list(run_ids))).values(priority=priority)
        ).rowcount
        session.commit()
    return n


def request_worker_stop(engine: Engine, worker_id: str) -> bool:
    """Ask a worker slot to stop gracefully: it finishes its current run and claims no more.

    The slot sees the request at its next heartbeat (within seconds); False if no live
    slot has that id or it is already stopping.
    """
    with Session(engine) as session:
        n = session.exec(  # type: ignore[call-overload]
            update(Worker).where(Worker.id == worker_id, Worker.state.in_((WorkerState.IDLE, WorkerState.BUSY))).values(
                state=WorkerState.STOPPING)
        ).rowcount
        session.commit()
    return n == 1
