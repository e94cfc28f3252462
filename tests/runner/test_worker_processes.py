"""Real worker processes on a real database, running real (tiny, CPU) training runs:
exactly-once execution across workers, SIGKILL → lease expiry → re-queue, cancel of
a running run, graceful SIGTERM, and a failing run's error text."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest
from sqlmodel import Session, select

from engine.store import queue
from engine.store.db import open_db
from engine.store.schema import MetricPoint, Result, Run, SystemSample
from tests.support.env import wait_for, xltui, xltui_bg
from tests.support.workers import attempts, enqueue_grid, run_processes, runs


@pytest.mark.slow
def test_two_workers_execute_each_run_exactly_once(any_db, tiny_grid, tmp_path):
    ids = enqueue_grid(any_db, tiny_grid(seeds="[1, 2, 3, 4]", train=24, eval=16))
    workers = [xltui_bg("worker", "--db", any_db, "--cpu", "--exit-when-idle", "--poll", "0.1",
                        log=tmp_path / f"w{i}.log") for i in range(2)]
    for w in workers:
        assert w.wait(timeout=400) == 0, (tmp_path / "w0.log").read_text()
    done = runs(any_db)
    assert [r.id for r in done] == ids
    assert all(r.status == "succeeded" and r.attempts == 1 for r in done), [(r.status, r.error) for r in done]
    assert len({a.worker_id for r in done for a in attempts(any_db, r.id)}) == 2  # both workers did work
    with Session(open_db(any_db)) as s:
        for r in done:
            assert s.exec(select(Result).where(Result.run_id == r.id, Result.metric == "f1")).all()
            assert s.exec(select(MetricPoint).where(MetricPoint.run_id == r.id,
                                                    MetricPoint.name == "train_loss")).all()
            assert s.exec(select(SystemSample).where(SystemSample.run_id == r.id)).first().rss_bytes > 0


@pytest.mark.slow
def test_killed_worker_run_is_requeued_after_lease_and_finished_by_another(any_db, tiny_grid, tmp_path):
    (run_id,) = enqueue_grid(any_db, tiny_grid(epochs=500, patience=500, train=200, eval=40))
    worker = xltui_bg("worker", "--db", any_db, "--cpu", "--lease", "2", "--poll", "0.1", log=tmp_path / "w1.log")
    engine = open_db(any_db)
    wait_for(lambda: runs(any_db)[0].status == "running", what="the run to start")
    wait_for(lambda: run_processes(run_id, any_db), what="the run subprocess")
    children = run_processes(run_id, any_db)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    # the orphaned run process notices its worker is gone and exits
    wait_for(lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in children),
             timeout=15, what="the orphaned run process to exit")
    assert runs(any_db)[0].status == "running"  # nobody knows yet: the lease still holds
    wait_for(lambda: queue.requeue_expired(engine) == [run_id], timeout=10, what="the lease to expire")
    run = runs(any_db)[0]
    assert (run.status, run.attempts) == ("queued", 1)
    assert attempts(any_db, run_id)[0].outcome == "lost"

    # a shorter run spec is not possible without a new hash; the same run is finished by a new worker
    with Session(engine) as s:
        s.get(Run, run_id).spec_json = s.get(Run, run_id).spec_json.replace('"epochs":500', '"epochs":1')
        s.commit()
    xltui("worker", "--db", any_db, "--cpu", "--exit-when-idle", check=True)
    run = runs(any_db)[0]
    assert (run.status, run.attempts) == ("succeeded", 2)
    assert [a.outcome for a in attempts(any_db, run_id)] == ["lost", "succeeded"]


@pytest.mark.slow
def test_cancelling_a_running_run_stops_its_process(any_db, tiny_grid, tmp_path):
    (run_id,) = enqueue_grid(any_db, tiny_grid(epochs=500, patience=500, train=200, eval=40))
    worker = xltui_bg("worker", "--db", any_db, "--cpu", "--lease", "2", "--exit-when-idle", "--poll", "0.1",
                      log=tmp_path / "w.log")
    wait_for(lambda: run_processes(run_id, any_db), what="the run subprocess")
    children = run_processes(run_id, any_db)
    out = xltui("cancel", str(run_id), "--db", any_db, check=True)
    assert "running → cancelled" in out.stdout
    assert worker.wait(timeout=60) == 0
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in children)
    run = runs(any_db)[0]
    assert run.status == "cancelled" and attempts(any_db, run_id)[0].outcome == "cancelled"


@pytest.mark.slow
def test_sigterm_requeues_the_current_run_and_exits_cleanly(db, tiny_grid, tmp_path):
    (run_id,) = enqueue_grid(db, tiny_grid(epochs=500, patience=500, train=200, eval=40))
    worker = xltui_bg("worker", "--db", db, "--cpu", "--poll", "0.1", log=tmp_path / "w.log")
    wait_for(lambda: run_processes(run_id, db), what="the run subprocess")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0, (tmp_path / "w.log").read_text()
    run = runs(db)[0]
    assert (run.status, run.retry_base, run.worker_id) == ("queued", 1, None)
    assert attempts(db, run_id)[0].outcome == "requeued"


@pytest.mark.slow
def test_a_failing_run_records_the_tail_of_its_stderr(db, tiny_grid, tmp_path):
    data = tmp_path / "data"
    for lang in ("en", "swa"):
        (data / lang).mkdir(parents=True)
        for split in ("train", "dev", "test"):
            (data / lang / f"{split}.txt").write_text("Obama B-PER\nsays O\n\nAbuja B-LOC\n")
    grid = tmp_path / "bad-later.yaml"
    grid.write_text(tiny_grid().read_text().replace("masakhaner", str(data)).replace("[swa, yor]", "[swa]"))
    (run_id,) = enqueue_grid(db, grid)
    (data / "swa" / "test.txt").write_text("Obama B-PER extra-field\n")  # broken after validation
    xltui("worker", "--db", db, "--cpu", "--exit-when-idle", check=True)
    run = runs(db)[0]
    assert run.status == "failed"
    assert "exited with status 1" in run.error and "ConllError" in run.error and "test.txt:1" in run.error
    log = Path(attempts(db, run_id)[0].log_path)
    assert log.is_file() and "Traceback" in log.read_text()
    assert os.path.getsize(log) > 0 and time.time() - log.stat().st_mtime < 600


@pytest.mark.slow
@pytest.mark.parametrize("how", ["--cpu-slots 2", "default on 2 cores"])
def test_cpu_slots_run_side_by_side_with_the_cores_split(db: str, tiny_grid, monkeypatch, how: str):
    """`--cpu-slots 2`, and `--cpu` with nothing else where the worker has 2 cores or more:
    two slots with their own worker ids, runs overlapping in time, each run starting at its share
    of the cores: half beside the other, all of them where it started alone (its share as it
    changes: tests/runner/test_cpu_share.py)."""
    from engine.runner.devices import usable_cores

    monkeypatch.setenv("XLTUI_TEST_CPU_OTHERS", "0")  # what the runs take must not depend on this machine's load
    enqueue_grid(db, tiny_grid(seeds="[1, 2]", train=24, eval=16))
    if how == "--cpu-slots 2":
        out = xltui("worker", "--db", db, "--cpu-slots", "2", "--exit-when-idle", check=True)
    else:
        assert usable_cores() >= 2, "this machine gives the test process one core: the default is one slot"
        monkeypatch.delenv("XLTUI_CPU_SLOTS")  # conftest's one slot per worker
        out = xltui("worker", "--db", db, "--cpu", "--exit-when-idle", check=True)
    assert "worker on cpu#1, cpu#2" in out.stdout
    done = runs(db)
    assert [r.status for r in done] == ["succeeded", "succeeded"]
    assert {r.worker_id.rsplit(":", 1)[1] for r in done} == {"cpu#1", "cpu#2"}
    first, second = sorted(done, key=lambda r: r.started_at)
    assert second.started_at < first.finished_at  # side by side, not one after the other
    cores = usable_cores()
    shares = {str(max(1, cores // 2)), str(cores - cores // 2), str(cores)}
    for r in done:
        (attempt,) = attempts(db, r.id)
        with Session(open_db(db)) as s:
            taken = s.exec(select(MetricPoint.value).where(MetricPoint.run_id == r.id, MetricPoint.name == "cpu_threads")
                           .order_by(MetricPoint.id)).first()
        assert str(int(taken)) in shares and f"torch threads {int(taken)}" in Path(attempt.log_path).read_text()
