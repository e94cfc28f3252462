"""Torture, small: real workers, their run processes and warm launchers killed while they work
through a real study on SQLite, a reader polling `xltui status` all the while — nothing lost,
nothing stuck, nothing done twice (bench/torture.py does it at size, with a baseline). And a run whose process
is killed from outside (SIGKILL as the OOM killer sends, SIGTERM as `kill PID` does) is retried
as a new attempt with the signal recorded, until its attempt limit, then failed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from sqlmodel import Session, select

from engine.store.db import open_db
from engine.store.schema import Attempt, Result, Run
from tests.support.env import REPO, wait_for
from tests.support.torture import STUDY, Plan, queue_study, torture, write_grid
from tests.support.torture_checks import LAUNCHER, RUN, RUN_TERM, WORKER, run_processes
from tests.support.workers import attempts, last_step


@pytest.mark.slow
def test_killing_workers_and_run_processes_loses_nothing(tmp_path: Path):
    plan = Plan(runs=8, workers=2, kills=(RUN, WORKER, LAUNCHER, RUN_TERM, WORKER, RUN), lease_s=2,
                max_attempts=10, train=300, epochs=3)
    report = torture(tmp_path / "torture", plan)
    # each run succeeded once, by its latest attempt, with its results and no other attempt's; no claim left,
    # no process left; each attempt hit ended as its kill says (the signal recorded) and was retried; the
    # reader never failed (bench.torture.check)
    assert report.problems == []
    assert [k.kind for k in report.kills] == list(plan.kills)
    assert (report.runs, report.succeeded) == (8, 8)
    assert report.attempts > 8  # the kills cost attempts: they hit runs mid-flight
    retried = sum(n for how, n in report.killed_attempts.items() if "retried" in how)
    assert retried >= 3, report.killed_attempts  # most kills land mid-run (a few may land after the result)
    assert report.polls > len(plan.kills)  # a status poll before each kill (tests/support/torture.py)


def attempt_process(worker: subprocess.Popen, artifacts: Path, number: int) -> psutil.Process | None:
    """The run process of attempt ``number`` of the study's run, once it runs; fails if the worker is gone
    (the run was failed instead of retried: no further attempt will come)."""
    assert worker.poll() is None, f"the worker exited ({worker.returncode}) before attempt {number} started"
    return next((p for p, path in run_processes(artifacts) if path.endswith(f"attempt-{number}/run.log")), None)


@pytest.mark.slow
def test_a_run_killed_from_outside_is_retried_with_the_signal_recorded_up_to_its_limit(tmp_path: Path):
    """SIGTERM, then SIGKILL three times, on a run allowed 3 attempts: the SIGTERM'd attempt saves its
    state at its step and does not use up an attempt (the next one continues from it); the SIGKILLs,
    with nothing newer saved, do: failed after the third — each attempt says which signal ended it,
    and the run's error names the last."""
    plan = Plan(runs=1, epochs=500, train=200)  # far longer than the test: only a kill ends an attempt
    db = tmp_path / "experiments.db"
    (run_id,) = queue_study(db, write_grid(tmp_path, plan), max_attempts=3)
    env = dict(os.environ, XLTUI_ARTIFACTS=str(tmp_path / "artifacts"))
    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen([sys.executable, "-m", "xltui.cli", "worker", "--db", str(db), "--cpu", "--cpu-slots",
                               "1", "--study", STUDY, "--exit-when-idle", "--poll", "0.1", "--lease", "5"],
                              cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for number, sig in enumerate((signal.SIGTERM, signal.SIGKILL, signal.SIGKILL, signal.SIGKILL), start=1):
            proc = wait_for(lambda: attempt_process(worker, tmp_path / "artifacts", number), timeout=120,
                            what=f"attempt {number}'s run process")
            wait_for(lambda: last_step(str(db), attempts(str(db), run_id)[number - 1].id) > 0, timeout=120,
                     what=f"attempt {number}'s training")  # a SIGTERM before it saves nothing
            proc.send_signal(sig)
        assert worker.wait(timeout=60) == 0, (tmp_path / "worker.log").read_text()  # nothing left: it exits
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        log.close()
    with Session(open_db(str(db), create=False)) as s:
        run = s.get(Run, run_id)
        tried = list(s.exec(select(Attempt).where(Attempt.run_id == run_id).order_by(Attempt.number)))
        results = s.exec(select(Result).where(Result.run_id == run_id)).all()
    assert (run.status, run.attempts, run.lease_expires_at) == ("failed", 4, None)
    assert [a.outcome for a in tried] == ["failed"] * 4
    assert "run process was killed by SIGTERM (exit status 143)" in tried[0].error
    assert tried[0].saved_step == tried[1].resumed_step > 0 and tried[2].resumed_step == tried[1].resumed_step
    assert all("run process was killed by SIGKILL" in a.error for a in tried[1:])
    assert "killed by SIGKILL" in run.error
    assert results == []
