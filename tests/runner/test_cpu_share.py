"""A worker's CPU runs share its cores (engine.runner.cpu_share, engine.training.cpu_threads): a
real worker with the default slots on a real SQLite database, warm-launched runs, and what
each run recorded (its ``cpu_threads`` points) read back from the database. Every step waits
on what the runs recorded, never on the clock: the runs are long and are cancelled to end."""

from __future__ import annotations

import signal

import pytest
from sqlmodel import Session, select

from engine.runner.cpu_share import share_env, start_threads, worker_cores
from engine.runner.devices import usable_cores
from engine.settings import CPU_CORES_ENV
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
    long = dict(epochs=500, patience=500, train=200, eval=40)
    (first,) = enqueue_grid(db, tiny_grid(study="first", name="first.yaml", **long))
    worker = xltui_bg("worker", "--db", db, "--cpu", "--lease", "2", "--poll", "0.1", log=tmp_path / "w.log")
    try:
        wait_for(lambda: threads_of(db, first) == [cores], what="the run alone to take every core")
        (second,) = enqueue_grid(db, tiny_grid(study="second", name="second.yaml", **long))
        # two runs: the cores split, the earlier run taking what is left over (none on an even count)
        wait_for(lambda: threads_of(db, second) == [cores // 2], what="the second run to start at half")
        wait_for(lambda: threads_of(db, first) == [cores, cores - cores // 2], what="the first run to give half up")
        xltui("cancel", str(second), "--db", db, check=True)
        wait_for(lambda: runs(db)[1].status == "cancelled" and runs(db)[1].finished_at, what="the second run to end")
        wait_for(lambda: threads_of(db, first) == [cores, cores - cores // 2, cores],
                 what="the first run to take every core back")
        assert threads_of(db, second) == [cores // 2]
        assert runs(db)[0].status == "running"
        xltui("cancel", str(first), "--db", db, check=True)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, (tmp_path / "w.log").read_text()
    log = (tmp_path / "w.log").read_text()
    assert "worker on cpu#1, cpu#2" in log


def test_what_a_worker_tells_its_runs_about_cores(monkeypatch):
    """The cores a worker's CPU runs share: the usable ones, fewer where its OMP_NUM_THREADS says so;
    a GPU run is told nothing (it keeps torch's own count)."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert worker_cores() == usable_cores()
    env: dict[str, str] = {}
    share_env(env, "cpu", start_threads(2))
    assert env == {CPU_CORES_ENV: str(usable_cores()), "OMP_NUM_THREADS": str(max(1, usable_cores() // 2)),
                   "MKL_NUM_THREADS": str(max(1, usable_cores() // 2))}
    env = {}
    share_env(env, "cpu", None)  # one slot: the run starts at torch's default, all of them
    assert env == {CPU_CORES_ENV: str(usable_cores())}
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert worker_cores() == 1 and start_threads(2) == 1
    env = {CPU_CORES_ENV: "8"}
    share_env(env, "cuda:0", None)
    assert env == {}
