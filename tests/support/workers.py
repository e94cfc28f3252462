"""Helpers shared by tests (moved from tests/runner/test_worker_processes.py)."""

from __future__ import annotations

from pathlib import Path

import psutil
from sqlmodel import Session, select

from engine.grid.expand import expand
from engine.grid.schema import load_grid
from engine.runner.plan import queue_runs
from engine.store.db import StoreError, open_db
from engine.store.schema import Attempt, Run


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
