"""`xltui slurm` through submitit's LocalExecutor (the same jobs, on this machine): workers
finish a study and name their jobs, a preemption signal re-queues the run at once and the
job restarts (with the checkpoint cadence, requeue budget and warning delay it was submitted
with), cancel re-queues, and bad input is one line with nothing submitted."""

from __future__ import annotations

import contextlib
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from sqlmodel import Session, select

from engine.settings import CHECKPOINT_EVERY_ENV
from engine.store.db import open_db
from engine.store.schema import ClusterJob, Worker
from tests.support.env import wait_for, xltui
from tests.support.workers import (
    SAVES_EVERY_7,
    attempts,
    enqueue_grid,
    last_step,
    latest_log,
    resumed_at_saved_step,
    run_processes,
    runs,
)

WIDE = {"COLUMNS": "200"}  # tables unwrapped: a cell is read whole whatever the job ids' length


SUBMITTED: list[str] = []  # this process's local jobs, ended after each test however it ended


@pytest.fixture(autouse=True)
def no_job_outlives_its_test() -> Iterator[None]:
    """A test that fails midway leaves no local job (a worker training an endless run) behind."""
    yield
    while SUBMITTED:
        job = SUBMITTED.pop()
        try:
            family = [controller(job), *controller(job).children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for p in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()


def submit_local(db: str, workers: int, *extra: str) -> list[str]:
    out = xltui("slurm", "submit", "--workers", str(workers), "--cluster", "local", "--gpus-per-worker", "0",
                "--time", "30", "--poll", "0.2", "--lease", "5", "--db", db, *extra, check=True)
    with Session(open_db(db, create=False)) as s:
        jobs = [j.job_id for j in s.exec(select(ClusterJob).order_by(ClusterJob.job_index))]
    SUBMITTED.extend(jobs)
    assert len(jobs) == workers and all(j in out.stdout for j in jobs), out.stdout
    return jobs


def workers_of(db: str) -> list[Worker]:
    with Session(open_db(db, create=False)) as s:
        return list(s.exec(select(Worker).order_by(Worker.started_at)))


def submitted(db: str, job_id: str):
    """What submitit keeps of a job to start (and, after a requeue, to start again): its pickled
    DelayedSubmission, which holds our WorkerJob and the time-outs it may still be requeued after."""
    from submitit.core.utils import DelayedSubmission, JobPaths

    with Session(open_db(db, create=False)) as s:
        job = s.exec(select(ClusterJob).where(ClusterJob.job_id == job_id)).one()
    return DelayedSubmission.load(JobPaths(Path(job.folder) / "%j", job_id=job_id).submitted_pickle)


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
def test_a_preempted_job_requeues_its_run_at_once_and_restarts_and_cancel_requeues_too(any_db, tiny_grid):
    """USR2 to the job: the run saves its state and is re-queued, the requeued job resumes it there."""
    db = any_db
    (run_id,) = enqueue_grid(db, tiny_grid(epochs=500, patience=500, train=200, eval=40))
    (job,) = submit_local(db, 1, "--checkpoint-every", "7", "--max-requeues", "9", "--signal-delay", "45")
    (proc,) = wait_for(lambda: run_processes(run_id, db), what="the run's process")
    wait_for(lambda: SAVES_EVERY_7 in latest_log(run_id, db), what="the run to say its cadence")  # the job's worker's
    assert controller(job).environ()["SUBMITIT_LOCAL_SIGNAL_DELAY_S"] == "45"  # the warning, 45 s before the end
    assert submitted(db, job)._timeout_countdown == 9  # submitit's max_num_timeout
    with Session(open_db(db, create=False)) as s:
        options = json.loads(s.exec(select(ClusterJob)).one().options)
    assert (options["signal_delay_s"], options["max_num_timeout"], options["checkpoint_every"]) == (45, 9, "7")
    wait_for(lambda: last_step(db, attempts(db, run_id)[0].id) >= 3, timeout=120, what="a few training steps")
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

    (proc,) = wait_for(lambda: run_processes(run_id, db), what="the second attempt's process")
    wait_for(lambda: SAVES_EVERY_7 in latest_log(run_id, db), what="the run to say its cadence")  # the requeued job's
    assert submitted(db, job)._timeout_countdown == 9  # a preemption is not a time-out
    resumed, reached, redone = resumed_at_saved_step(db, run_id)
    assert resumed == reached >= 3 and redone == 0  # the run saved at the step it stopped at, and goes on from it
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
        (("--workers", "1", "--cluster", "local", "--time", "30", "--signal-delay", "1800"), {}, "--signal-delay 1800"),
        (("--workers", "1", "--cluster", "local", "--checkpoint-every", "1d"), {}, "--checkpoint-every: '1d'"),
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


def test_submission_defaults_and_the_cadence_the_jobs_are_given(monkeypatch):
    from engine.runner import slurm
    from xltui import cli_slurm

    # `xltui slurm submit --help` imports no engine module, so the CLI repeats the engine's defaults
    assert (cli_slurm.MAX_REQUEUES, cli_slurm.SIGNAL_DELAY_S) == (slurm.MAX_REQUEUES, slurm.SIGNAL_DELAY_S)
    on_slurm, local = slurm.SlurmRequest(workers=2), slurm.SlurmRequest(workers=2, cluster="local")
    assert on_slurm.parameters()["slurm_signal_delay_s"] == local.parameters()["signal_delay_s"] == 120
    monkeypatch.setenv(CHECKPOINT_EVERY_ENV, "30m")  # no --checkpoint-every: the submitter's own, fixed now
    assert local.recorded({})["checkpoint_every"] == "30m" and local.recorded({})["max_num_timeout"] == 100
    with pytest.raises(slurm.SubmitError, match="XLTUI_CHECKPOINT_EVERY: 'x'"):
        monkeypatch.setenv(CHECKPOINT_EVERY_ENV, "x")
        local.check()
