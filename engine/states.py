"""The words a run, an attempt and a worker slot are in (stored as plain strings), what a stop
signal asks (``StopAction``), and each task's main metric (from the task table, engine.tasks).

Kept apart from ``engine.spec`` (which needs pydantic) so the read-only commands
(`xltui status`, the TUI's first screen) can name states without importing it.
Imports only engine.tasks (which imports nothing).
"""

from __future__ import annotations

from enum import StrEnum

from engine.tasks import MAIN_METRIC  # noqa: F401 (what tables report and checkpoints are selected on)


class RunStatus(StrEnum):
    """Where a run is in the queue: queued -> running -> succeeded | failed | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Finished one way or another: only a retry (or --rerun) moves it again."""
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class Outcome(StrEnum):
    """How one attempt of a run ended (``Attempt.outcome``); a run has as many attempts as claims."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REQUEUED = "requeued"  # its worker stopped; the run went back to the queue, the attempt does not count
    LOST = "lost"  # its worker vanished (lease expired) or the run was taken from it
    CANCELLED = "cancelled"


class WorkerState(StrEnum):
    """A worker slot's row in the workers table."""

    IDLE = "idle"
    BUSY = "busy"
    STOPPING = "stopping"  # asked to stop: finishes its current run, claims no more
    STOPPED = "stopped"


class StopAction(StrEnum):
    """What a stop signal asks of the process that gets it; engine.runner.stop says which signal asks what."""

    FINISH = "finish"  # a worker: finish the current runs, claim no more
    REQUEUE = "requeue"  # a worker: stop the current runs now; they go back to the queue (the attempt does not count)
    PREEMPTED = "preempted"  # a worker whose cluster job is preempted or near its time limit: REQUEUE, requeue the job
    EXIT = "exit"  # a run process: end now; its worker records how the attempt ended
    SAVE = "save"  # a run process: save the training state at the next step boundary, then end (EXIT outside training)
    IGNORE = "ignore"  # a run process: not for it; its worker acts on it

    @property
    def requeues(self) -> bool:
        """A worker stops its current runs now, and they go back to the queue."""
        return self in (StopAction.REQUEUE, StopAction.PREEMPTED)
