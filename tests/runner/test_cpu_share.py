"""A worker's CPU runs share its cores (engine.runner.cpu_share, engine.training.cpu_threads): a
real worker with the default slots on a real SQLite database, warm-launched runs, and what
each run recorded (its ``cpu_threads`` points) read back from the database. Every step waits
on what the runs recorded, never on the clock: the runs are long and are cancelled to end.
Other processes' use of the cores is simulated (XLTUI_TEST_CPU_OTHERS), so what a run takes
does not depend on what else this machine runs meanwhile."""

from __future__ import annotations

import signal

import pytest
from sqlmodel import Session, select

from engine.runner.cpu_share import share_env, start_threads, worker_cores
from engine.runner.devices import usable_cores
from engine.settings import CPU_CORES_ENV, TEST_CPU_OTHERS_ENV
from engine.store.db import open_db
from engine.store.schema import MetricPoint
from tests.support.env import wait_for, xltui, xltui_bg
from tests.support.workers import enqueue_grid, runs


def threads_of(db: str, run_id: int) -> list[int]:
    """The thread counts a run took, in order (one point per change)."""
    with Session(open_db(db, create=False)) as s:
        points = s.exec(select(MetricPoint).where(MetricPoint.run_id == run_id, MetricPoint.name == "cpu_threads")
                        .order_by(MetricPoint.id)).all()
    return [int(p.value) for p in points]


@pytest.mark.slow
def test_a_lone_run_takes_every_core_shares_them_beside_another_and_takes_them_back(db, tiny_grid, tmp_path,
                                                                                     monkeypatch):
    cores = usable_cores()
    assert cores >= 2, "this machine gives the test process one core: nothing to share"
    monkeypatch.delenv("XLTUI_CPU_SLOTS")  # conftest's one slot: here the default, two on 2 cores or more
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the worker's cores: every usable one
    monkeypatch.setenv(TEST_CPU_OTHERS_ENV, "0")  # no other process keeps a core busy
    long = dict(epochs=500, patience=500, train=200, eval=40)
    (first,) = enqueue_grid(db, tiny_grid(study="first", name="first.yaml", **long))
    worker = xltui_bg("worker", "--db", db, "--cpu", "--lease", "2", "--poll", "0.1", log=tmp_path / "w.log")
    start = cores // 2  # what a run of two slots starts with, until its first look says more are free
    try:
        wait_for(lambda: threads_of(db, first) == [start, cores], what="the run alone to take every core")
        (second,) = enqueue_grid(db, tiny_grid(study="second", name="second.yaml", **long))
        # two runs: the cores split, the earlier run taking what is left over (none on an even count)
        wait_for(lambda: threads_of(db, second) == [cores // 2], what="the second run to start at half")
        wait_for(lambda: threads_of(db, first) == [start, cores, cores - cores // 2],
                 what="the first run to give half up")
        xltui("cancel", str(second), "--db", db, check=True)
        wait_for(lambda: runs(db)[1].status == "cancelled" and runs(db)[1].finished_at, what="the second run to end")
        wait_for(lambda: threads_of(db, first) == [start, cores, cores - cores // 2, cores],
                 what="the first run to take every core back")
        assert threads_of(db, second) == [cores // 2]
        assert runs(db)[0].status == "running"
        xltui("cancel", str(first), "--db", db, check=True)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, (tmp_path / "w.log").read_text()
    log = (tmp_path / "w.log").read_text()
    assert "worker on cpu#1, cpu#2" in log


def test_a_run_leaves_a_core_that_another_process_keeps_busy(db, tiny_grid, monkeypatch):
    """Alone, but beside a process that keeps a core busy: the run takes the cores left free."""
    cores = usable_cores()
    assert cores >= 2, "this machine gives the test process one core: nothing to share"
    monkeypatch.delenv("XLTUI_CPU_SLOTS")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv(TEST_CPU_OTHERS_ENV, "1")
    (run_id,) = enqueue_grid(db, tiny_grid(train=24, eval=16))
    xltui("worker", "--db", db, "--cpu", "--exit-when-idle", "--poll", "0.1", check=True)
    assert runs(db)[0].status == "succeeded"
    taken = threads_of(db, run_id)
    assert taken and max(taken) <= cores - 1, taken  # on 2 cores: [1]


def test_what_a_worker_tells_its_runs_about_cores(monkeypatch):
    """The cores a worker's CPU runs share: the usable ones, fewer where its OMP_NUM_THREADS says so;
    a GPU run is told nothing (it keeps torch's own count)."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert worker_cores() == usable_cores()
    env: dict[str, str] = {}
    share_env(env, "cpu", start_threads(2))
    assert env == {CPU_CORES_ENV: str(usable_cores()), "OMP_NUM_THREADS": str(max(1, usable_cores() // 2)),
                   "MKL_NUM_THREADS": str(max(1, usable_cores() // 2))}
    env = {CPU_CORES_ENV: "8"}
    share_env(env, "cpu", None)  # one slot: nothing shared, its runs keep torch's default (every core)
    assert env == {}
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert worker_cores() == 1 and start_threads(2) == 1
    env = {CPU_CORES_ENV: "8"}
    share_env(env, "cuda:0", None)
    assert env == {}
