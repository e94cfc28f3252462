"""`xltui slurm` through submitit's LocalExecutor (the same jobs, on this machine): workers
finish a study and name their jobs, a preemption signal re-queues the run at once and the
job restarts, cancel re-queues, and bad input is one line with nothing submitted."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import psutil
import pytest
from sqlmodel import Session, select

from engine.store.db import open_db
from engine.store.schema import ClusterJob, Worker
from tests.support.env import wait_for, xltui
from tests.support.workers import attempts, enqueue_grid, run_processes, runs

WIDE = {"COLUMNS": "200"}  # tables unwrapped: a cell is read whole whatever the job ids' length


def submit_local(db: str, workers: int, *extra: str) -> list[str]:
    out = xltui("slurm", "submit", "--workers", str(workers), "--cluster", "local", "--gpus-per-worker", "0",
                "--time", "30", "--poll", "0.2", "--lease", "5", "--db", db, *extra, check=True)
    with Session(open_db(db, create=False)) as s:
        jobs = [j.job_id for j in s.exec(select(ClusterJob).order_by(ClusterJob.job_index))]
    assert len(jobs) == workers and all(j in out.stdout for j in jobs), out.stdout
    return jobs


def workers_of(db: str) -> list[Worker]:
    with Session(open_db(db, create=False)) as s:
        return list(s.exec(select(Worker).order_by(Worker.started_at)))


def controller(job_id: str) -> psutil.Process:
    return psutil.Process(int(job_id))  # a local job's id is its controller's pid


def gone(job_id: str) -> bool:
    try:
        return controller(job_id).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.slow
def test_two_worker_jobs_finish_a_study_and_status_names_both(pg_server, tiny_grid):
    """On PostgreSQL, the database of a cluster's workers (the queue on both backends: tests/store, tests/runner)."""
    any_db = pg_server.new_database()
    ids = enqueue_grid(any_db, tiny_grid(seeds="[1, 2, 3, 4]", train=24, eval=16))
    jobs = submit_local(any_db, 2)
    wait_for(lambda: all(gone(j) for j in jobs), timeout=400, what="both jobs to end when the queue is empty")
    done = runs(any_db)
    assert [r.id for r in done] == ids and all(r.status == "succeeded" for r in done), [r.error for r in done]
    ws = workers_of(any_db)
    assert {(w.job_id, w.job_index) for w in ws} == {(jobs[0], 0), (jobs[1], 1)}
    assert {a.worker_id for r in done for a in attempts(any_db, r.id)} <= {w.id for w in ws}
    out = xltui("slurm", "status", "--db", any_db, check=True, env=WIDE).stdout
    for job in jobs:
        line = next(ln for ln in out.splitlines() if f" {job} " in ln)
        assert "ENDED" in line and "stopped" in line
    status = xltui("status", "--db", any_db, check=True).stdout
    assert "succeeded" in status


@pytest.mark.slow
def test_a_preempted_job_requeues_its_run_at_once_and_restarts_and_cancel_requeues_too(db, tiny_grid):
    (run_id,) = enqueue_grid(db, tiny_grid(epochs=500, patience=500, train=200, eval=40))
    (job,) = submit_local(db, 1)
    wait_for(lambda: run_processes(run_id, db), what="the run's process")
    (task,) = controller(job).children()  # the worker: what Slurm's --signal reaches
    task.send_signal(signal.SIGUSR2)  # submitit's preemption / time-limit signal
    sent = time.time()
    wait_for(lambda: len(attempts(db, run_id)) == 2, timeout=60, what="the restarted job to claim the run again")
    first, second = attempts(db, run_id)
    assert first.outcome == "requeued" and "preempted" in first.error
    assert second.started_at - sent < 20  # at once: not after the 5 s lease, not after a minute
    ws = workers_of(db)
    assert len(ws) == 2 and {w.job_id for w in ws} == {job} and ws[0].pid != ws[1].pid  # submitit requeued it
    assert runs(db)[0].attempts - runs(db)[0].retry_base <= 1  # a preemption costs the run no attempt

    wait_for(lambda: run_processes(run_id, db), what="the second attempt's process")
    out = xltui("slurm", "cancel", "--db", db, check=True)
    assert job in out.stdout
    wait_for(lambda: gone(job), timeout=60, what="the cancelled job to end")
    run = runs(db)[0]
    assert run.status == "queued"  # back in the queue for the next worker, nothing lost
    assert attempts(db, run_id)[-1].outcome == "requeued"
    assert not run_processes(run_id, db)
    out = xltui("slurm", "status", "--all", "--db", db, check=True, env=WIDE).stdout
    assert "CANCELLED" in out, out
    assert "2 starts" in out, out
    assert "no jobs" in xltui("slurm", "status", "--db", db, check=True, env=WIDE).stdout


@pytest.mark.slow
def test_bad_submissions_are_one_line_and_submit_nothing(db, tmp_path: Path):
    open_db(db)
    empty = tmp_path / "no-slurm-here"
    empty.mkdir()
    cases = [
        (("--workers", "1"), {"PATH": str(empty)}, "sbatch is not installed here"),
        (("--workers", "1", "--time", "soon", "--cluster", "local"), {}, "--time 'soon'"),
        (("--workers", "1", "--slurm-opt", "constraint", "--cluster", "local"), {}, "--slurm-opt 'constraint'"),
        (("--workers", "1", "--cluster", "pbs"), {}, "--cluster 'pbs'"),
        (("--workers", "1", "--study", "nope", "--cluster", "local"), {}, "no study named 'nope'"),
    ]
    for args, env, message in cases:
        out = xltui("slurm", "submit", "--db", db, *args, env=env)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, out.stderr)
    with Session(open_db(db, create=False)) as s:
        assert s.exec(select(ClusterJob)).all() == []
    assert not (Path(db).parent / "xltui-artifacts" / "slurm").exists()
    out = xltui("slurm", "cancel", "12345", "--db", db)
    assert out.returncode == 2 and "not a job xltui submitted" in out.stderr
