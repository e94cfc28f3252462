"""The words a run, an attempt and a worker slot are in (stored as plain strings), and each task's main metric.

Kept apart from ``engine.spec`` (which needs pydantic) so the read-only commands
(`xltui status`, the TUI's first screen) can name states without importing it.
Imports nothing.
"""

from __future__ import annotations

from enum import StrEnum

MAIN_METRIC = {"ner": "f1", "pos": "accuracy"}  # what tables report and checkpoints are selected on


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
