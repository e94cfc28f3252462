"""Helpers shared by tests (moved from tests/runner/test_worker_processes.py)."""

from __future__ import annotations

from pathlib import Path

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


def run_processes(run_id: int, db: str) -> list[psutil.Process]:
    """The live processes of a run: a cold one by its command line and parent; a warm one (forked by a
    launcher, so it carries the launcher's command line) as the child of the launcher of the
    worker the database says runs it."""
    found, worker_pid = [], None
    try:
        with Session(open_db(db, create=False)) as s:
            run = s.get(Run, run_id)
            worker_pid = int(run.worker_id.split(":")[1]) if run is not None and run.worker_id else None
    except StoreError:  # not created yet: nothing runs
        return []
    for p in psutil.process_iter(["cmdline", "ppid"]):
        cmd = p.info["cmdline"] or []
        if "engine.training.run" in cmd and cmd[cmd.index("--run") + 1:][:1] == [str(run_id)] \
                and worker_pid is not None and p.info["ppid"] == worker_pid:  # the URL is in its environment
            found.append(p)
        elif "engine.training.launcher" in cmd and worker_pid is not None and p.info["ppid"] == worker_pid:
            found.extend(c for c in p.children() if c.status() != psutil.STATUS_ZOMBIE)
    return found


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
