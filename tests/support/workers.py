"""Helpers shared by tests (moved from tests/runner/test_worker_processes.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import psutil
from sqlmodel import Session, select

from engine.grid.expand import expand
from engine.grid.schema import load_grid
from engine.runner.plan import queue_runs
from engine.store.db import StoreError, open_db
from engine.store.schema import Attempt, MetricPoint, Run
from tests.support.env import wait_for


def enqueue_grid(db: str, grid: Path, **kw) -> list[int]:
    spec = load_grid(grid)
    return queue_runs(open_db(db), spec.study, expand(spec), **kw).new


def runs(db: str) -> list[Run]:
    with Session(open_db(db, create=False)) as s:
        return list(s.exec(select(Run).order_by(Run.id)))


def attempts(db: str, run_id: int) -> list[Attempt]:
    with Session(open_db(db, create=False)) as s:
        return list(s.exec(select(Attempt).where(Attempt.run_id == run_id).order_by(Attempt.number)))


def latest_attempt(run_id: int, db: str) -> Attempt | None:
    """The run's latest attempt, None before its first."""
    return (attempts(db, run_id) or [None])[-1]


def fd_target(pid: int, fd: int | str) -> str | None:
    """What a process's file descriptor ``fd`` points at (a path, ``pipe:[N]``); None if it has none
    or has ended."""
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return None


def log_writers(wanted: Callable[[str], bool]) -> list[tuple[psutil.Process, str]]:
    """Live processes whose stdout is a file ``wanted`` accepts, with that path: a run process writes
    its attempt's log so, whoever forked it (its worker for a cold run, the worker's own launcher or a
    warm server's). A process one of them started inherits that stdout: left out."""
    found: dict[int, tuple[psutil.Process, str]] = {}
    for p in psutil.process_iter(["ppid", "status"]):
        path = fd_target(p.pid, 1)
        if path and wanted(path) and p.info["status"] != psutil.STATUS_ZOMBIE:
            found[p.pid] = (p, path)
    return [(p, path) for p, path in found.values() if p.info["ppid"] not in found]


def run_processes(run_id: int, db: str) -> list[psutil.Process]:
    """The live process of a run's latest attempt: the one writing that attempt's log as its stdout."""
    try:
        latest = latest_attempt(run_id, db)
    except StoreError:  # not created yet: nothing runs
        return []
    if latest is None or not latest.log_path:
        return []
    log = os.path.realpath(latest.log_path)
    return [p for p, _path in log_writers(lambda path: path == log)]


def worker_pid(worker_id: str) -> int:
    """The process of a worker slot, from its id (``host:pid:device``, engine.runner.slot)."""
    return int(worker_id.split(":")[1])


# what a run says once it has read the cadence a worker's --checkpoint-every 7 gave it (engine.training.run)
SAVES_EVERY_7 = "training state saved every 7 steps and when stopped"


def latest_log(run_id: int, db: str) -> str:
    """What the run's latest attempt has written to its log so far."""
    latest = latest_attempt(run_id, db)
    return Path(latest.log_path).read_text(errors="replace") if latest and latest.log_path else ""


def last_step(db: str, attempt_id: int) -> int:
    """The furthest optimizer step an attempt logged a training loss for (0: none yet)."""
    with Session(open_db(db, create=False)) as s:
        steps = s.exec(select(MetricPoint.step).where(MetricPoint.attempt_id == attempt_id,
                                                      MetricPoint.name == "train_loss")).all()
    return max(steps, default=0)


def resumed_at_saved_step(db: str, run_id: int) -> tuple[int | None, int, int | None]:
    """(the second attempt's resumed_step, the first attempt's last step, the steps redone) once the
    second attempt has loaded the state the first saved as it was stopped."""
    wait_for(lambda: attempts(db, run_id)[1].resumed_step is not None, timeout=120,
             what="the second attempt to resume from the saved state")
    first, second = attempts(db, run_id)[:2]
    return second.resumed_step, last_step(db, first.id), second.redone_steps
