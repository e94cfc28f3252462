"""`xltui slurm` against a real single-node Slurm (munged, slurmctld, slurmd started by
tests/support/slurm.py): two array tasks drain a study, `xltui slurm status` names both, a USR2
from `scancel --signal` re-queues the run at once and Slurm requeues the job, and a
partition Slurm does not have is one line with nothing recorded. Skips, with the
daemon's own error, where the daemons cannot start; the LocalExecutor tests still run."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
from sqlmodel import Session, select

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

SUBMIT = ("--gpus-per-worker", "0", "--cpus-per-worker", "1", "--time", "1:00:00", "--poll", "0.2", "--lease", "5")


def submit(db: str, partition: str, workers: int, *extra: str) -> list[str]:
    out = xltui("slurm", "submit", "--workers", str(workers), "--partition", partition, *SUBMIT, "--db", db,
                *extra, check=True)
    with Session(open_db(db, create=False)) as s:
        jobs = [j.job_id for j in s.exec(select(ClusterJob).order_by(ClusterJob.job_index))]
    assert len(jobs) == workers and all(j in out.stdout for j in jobs), out.stdout
    return jobs


def submitted(db: str, job_id: str) -> tuple[str, object]:
    """What submitit wrote for a job: its sbatch script and its pickled DelayedSubmission (our WorkerJob and
    the time-outs it may still be requeued after)."""
    from submitit.core.utils import DelayedSubmission, JobPaths

    with Session(open_db(db, create=False)) as s:
        job = s.exec(select(ClusterJob).where(ClusterJob.job_id == job_id)).one()
    paths = JobPaths(Path(job.folder) / "%j", job_id=job_id)
    return paths.submission_file.read_text(), DelayedSubmission.load(paths.submitted_pickle)


def in_squeue(job: str) -> bool:
    out = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T", "-j", job.split("_")[0]], capture_output=True,
                         text=True, timeout=30).stdout
    return any(line.split()[0] == job and line.split()[1] not in ("COMPLETED", "CANCELLED", "FAILED")
               for line in out.splitlines())


@pytest.mark.slow
def test_two_slurm_workers_drain_a_study_and_status_names_both_jobs(slurm_cluster, db, tiny_grid):
    ids = enqueue_grid(db, tiny_grid(seeds="[1, 2, 3, 4]", train=24, eval=16))
    jobs = submit(db, slurm_cluster.partition, 2)
    assert all(re.fullmatch(r"\d+_[01]", j) for j in jobs), jobs  # one array, tasks 0 and 1
    wait_for(lambda: all(r.status == "succeeded" for r in runs(db)), timeout=600,
             what=f"the study to finish on Slurm\n{slurm_cluster.squeue()}")
    wait_for(lambda: not any(in_squeue(j) for j in jobs), timeout=120, what="both jobs to end when idle")
    assert [r.id for r in runs(db)] == ids
    with Session(open_db(db, create=False)) as s:
        ws = s.exec(select(Worker)).all()
    assert {(w.job_id, w.job_index) for w in ws} == {(jobs[0], 0), (jobs[1], 1)}
    out = xltui("slurm", "status", "--db", db, check=True, env=WIDE).stdout
    done = 0
    for job in jobs:
        line = next(ln for ln in out.splitlines() if f" {job} " in ln)
        assert "stopped" in line
        done += int(line.split("│")[6])
    assert done == 4


@pytest.mark.slow
def test_usr2_requeues_the_run_at_once_and_slurm_restarts_the_worker(slurm_cluster, db, tiny_grid):
    (run_id,) = enqueue_grid(db, tiny_grid(epochs=500, patience=500, train=200, eval=40))
    (job,) = submit(db, slurm_cluster.partition, 1, "--checkpoint-every", "7", "--max-requeues", "9",
                    "--signal-delay", "45")
    (proc,) = wait_for(lambda: run_processes(run_id, db), timeout=120,
                       what=f"the run on Slurm\n{slurm_cluster.squeue()}")
    wait_for(lambda: SAVES_EVERY_7 in latest_log(run_id, db), what="the run to say its cadence")  # the job's worker's
    script, delayed = submitted(db, job)
    assert "#SBATCH --signal=USR2@45" in script.splitlines()  # the warning leaves the runs 45 s to save
    assert delayed._timeout_countdown == 9  # submitit's max_num_timeout
    wait_for(lambda: last_step(db, attempts(db, run_id)[0].id) >= 3, timeout=120, what="a few training steps")
    sent = time.time()
    subprocess.run(["scancel", "--signal=USR2", job], check=True, timeout=30)  # what preemption sends
    wait_for(lambda: attempts(db, run_id)[0].outcome == "requeued", timeout=60, what="the run to be re-queued")
    first = attempts(db, run_id)[0]
    assert "preempted or out of time" in first.error
    assert first.finished_at - sent < 20  # at once, not after a lease
    wait_for(lambda: len(attempts(db, run_id)) == 2, timeout=180,
             what=f"Slurm to requeue the job and its new worker to claim the run\n{slurm_cluster.squeue()}")
    with Session(open_db(db, create=False)) as s:
        ws = s.exec(select(Worker).order_by(Worker.started_at)).all()
    assert len(ws) == 2 and {w.job_id for w in ws} == {job} and ws[0].pid != ws[1].pid
    (proc,) = wait_for(lambda: run_processes(run_id, db), timeout=60, what="the second attempt's process")
    wait_for(lambda: SAVES_EVERY_7 in latest_log(run_id, db), what="the run to say its cadence")  # the requeued job's
    assert submitted(db, job)[1]._timeout_countdown == 9  # 1 h asked, seconds run: a preemption, not a time-out
    resumed, reached, redone = resumed_at_saved_step(db, run_id)
    assert resumed == reached >= 3 and redone == 0  # the run saved at the step it stopped at, and goes on from it
    out = xltui("slurm", "cancel", "--db", db, check=True)
    assert job in out.stdout
    wait_for(lambda: attempts(db, run_id)[-1].outcome == "requeued" and runs(db)[0].status == "queued",
             timeout=60, what="scancel to re-queue the run")
    wait_for(lambda: not in_squeue(job), timeout=60, what="the cancelled job to end")


@pytest.mark.slow
def test_a_partition_slurm_does_not_have_is_one_line_and_nothing_is_recorded(slurm_cluster, db):
    open_db(db)
    out = xltui("slurm", "submit", "--workers", "2", "--partition", "no-such-partition", *SUBMIT, "--db", db)
    assert out.returncode == 2, out.stdout + out.stderr
    lines = [ln for ln in out.stderr.strip().splitlines() if not ln.startswith("warning:") and ln.startswith("error")]
    assert lines == ["error: sbatch refused the job: invalid partition specified: no-such-partition"], out.stderr
    with Session(open_db(db, create=False)) as s:
        assert s.exec(select(ClusterJob)).all() == []
