"""Runs forked from the warm launcher (`xltui worker --warm`), as a user runs them: the same
results as cold runs, and every promise of the cold path kept — each run its own process
group, cancellation, a killed run retried, a dead launcher restarted, the worker's death
ending its runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from sqlmodel import Session, select

from engine.settings import DB_ENV
from engine.store.db import open_db
from engine.store.schema import MetricPoint
from engine.training.launcher import ADAPTERS_NOTE
from tests.support.env import REPO, wait_for, xltui
from tests.support.workers import attempts, enqueue_grid, runs

# the workers start their launchers themselves (no warm server): this file watches those launchers
pytestmark = pytest.mark.usefixtures("own_launchers")


def _launcher_like(db: str) -> list[psutil.Process]:
    """Launchers (and the runs they forked, which carry their command line) of workers on ``db``:
    told apart by the database in their environment, so another study on this machine is not ours."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if "engine.training.launcher" not in (p.info["cmdline"] or []):
            continue
        try:
            if db in p.environ().get(DB_ENV, ""):  # a path, or a URL that holds it
                found.append(p)
        except psutil.Error:  # ended meanwhile
            continue
    return found


def launchers(db: str) -> list[psutil.Process]:
    """Live launchers of workers on ``db`` (a forked run carries its launcher's command line: told apart
    by its parent)."""
    found = _launcher_like(db)
    pids = {p.pid for p in found}
    return [p for p in found if p.ppid() not in pids and p.status() != psutil.STATUS_ZOMBIE]


def warm_runs(db: str) -> list[psutil.Process]:
    """Run processes forked by a launcher of a worker on ``db`` (they carry its command line)."""
    return [c for launcher in launchers(db) for c in launcher.children()]


def worker(db: str, log: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "xltui.cli", "worker", "--db", db, "--cpu", "--poll", "0.1",
                             "--warm", *extra], cwd=REPO, stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def losses(db: str) -> list[tuple[int, int, float]]:
    with Session(open_db(db, create=False)) as s:
        return [(p.run_id, p.step, p.value) for p in s.exec(
            select(MetricPoint).where(MetricPoint.name == "train_loss").order_by(MetricPoint.run_id, MetricPoint.step))]


@pytest.mark.slow
def test_warm_runs_give_exactly_the_results_of_cold_runs(tiny_grid, tmp_path):
    grid = tiny_grid(seeds="[1]", train=24, eval=16)  # two runs: a launcher serves more than one
    grid.write_text(grid.read_text().replace("settings: [zero-shot]", "settings: [zero-shot, {few-shot: [4]}]"))
    cold, warm = str(tmp_path / "cold.db"), str(tmp_path / "warm.db")
    enqueue_grid(cold, grid)
    enqueue_grid(warm, grid)
    xltui("worker", "--db", cold, "--cpu", "--exit-when-idle", "--poll", "0.1", "--no-warm", check=True, timeout=600)
    out = xltui("worker", "--db", warm, "--cpu", "--exit-when-idle", "--poll", "0.1", "--warm", check=True,
                timeout=600)
    assert "starting the run cold" not in out.stdout  # the launcher really served them
    assert ADAPTERS_NOTE not in out.stdout + out.stderr  # full fine-tuning never pays for the adapters library
    assert all(r.status == "succeeded" for r in runs(warm)), [r.error for r in runs(warm)]
    assert losses(warm) == losses(cold) and losses(warm)  # same seeds, same steps, same numbers
    assert not launchers(warm)  # it ended with its worker


@pytest.mark.slow
def test_a_warm_run_is_cancelled_killed_and_retried_and_the_launcher_comes_back(db, tiny_grid, tmp_path):
    ids = enqueue_grid(db, tiny_grid(seeds="[1, 2]", epochs=500, patience=500, train=200, eval=40), max_attempts=3)
    w = worker(db, tmp_path / "w.log", "--exit-when-idle", "--lease", "2")
    try:
        first = wait_for(lambda: warm_runs(db), timeout=180, what="a forked run")[0]
        assert os.getpgid(first.pid) == first.pid and os.getsid(first.pid) == first.pid  # its own group and session
        running = next(r for r in runs(db) if r.status == "running")
        # the OOM killer takes the run: retried as a new attempt, by the same launcher
        launcher = launchers(db)[0]
        first.send_signal(signal.SIGKILL)
        wait_for(lambda: any(len(attempts(db, r.id)) == 2 for r in runs(db)) and warm_runs(db), timeout=120,
                 what="the retry")
        assert "killed by SIGKILL" in attempts(db, running.id)[0].error
        assert launchers(db)[0].pid == launcher.pid
        # the launcher itself dies: the run under it is retried, and a new launcher serves it
        launcher.send_signal(signal.SIGKILL)
        wait_for(lambda: launchers(db) and launchers(db)[0].pid != launcher.pid and warm_runs(db), timeout=180,
                 what="a new launcher and its run")
        # cancel what runs now: its process group goes, the run is cancelled
        now = next(r for r in runs(db) if r.status == "running")
        child = warm_runs(db)[0]
        out = xltui("cancel", *[str(i) for i in ids], "--db", db, check=True)
        assert "cancelled" in out.stdout
        wait_for(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, timeout=30,
                 what="the cancelled run's process to end")
        assert w.wait(timeout=60) == 0
        assert runs(db)[[r.id for r in runs(db)].index(now.id)].status == "cancelled"
        assert not launchers(db)
    finally:
        if w.poll() is None:
            w.kill()


@pytest.mark.slow
def test_a_killed_worker_takes_its_launcher_and_its_run_with_it(db, tiny_grid, tmp_path):
    enqueue_grid(db, tiny_grid(epochs=500, patience=500, train=200, eval=40))
    w = worker(db, tmp_path / "w.log", "--lease", "2")
    try:
        (child,) = wait_for(lambda: warm_runs(db), timeout=180, what="a forked run")
        launcher = child.parent()
        assert launcher.ppid() == w.pid  # the worker's launcher
        w.send_signal(signal.SIGKILL)
        w.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE
                                                  for p in (child, launcher)):
            time.sleep(0.2)
        assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in (child, launcher))
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()
