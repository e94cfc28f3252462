"""Several real workers on one database, as a lab runs them, on SQLite and PostgreSQL:
workers killed with SIGKILL mid-run (each run still finishes exactly once, its results
stored once), and a reader polling `xltui status` while four workers write."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import Session, select

from engine.settings import TEST_HOLD_ENV
from engine.store.db import open_db
from engine.store.schema import Attempt, Result
from tests.support.env import REPO, wait_for
from tests.support.workers import enqueue_grid, runs, worker_pid


def start_worker(db: str, log: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "xltui.cli", "worker", "--db", db, "--cpu", "--poll", "0.1",
                             "--lease", "2", *extra], cwd=REPO, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})})


def busy_pids(db: str) -> set[int]:
    """The pids of the workers running a run now."""
    return {worker_pid(r.worker_id) for r in runs(db) if r.status == "running" and r.worker_id}


def finished_exactly_once(db: str, ids: list[int]) -> None:
    """Every run succeeded once, and only that attempt's results are stored."""
    with Session(open_db(db, create=False)) as s:
        done = Counter(a.run_id for a in s.exec(select(Attempt).where(Attempt.outcome == "succeeded")))
        result_attempts = {(r.run_id, r.attempt_id) for r in s.exec(select(Result))}
        succeeded = {(a.run_id, a.id) for a in s.exec(select(Attempt).where(Attempt.outcome == "succeeded"))}
        open_attempts = s.exec(select(Attempt).where(Attempt.outcome.is_(None))).all()
    assert sorted(done) == sorted(ids) and set(done.values()) == {1}, done
    assert result_attempts == succeeded  # no lost attempt left results behind, none is missing its own
    assert open_attempts == []  # every attempt ended with an outcome (lost ones too)
    assert all(r.status == "succeeded" for r in runs(db))


@pytest.mark.slow
def test_workers_killed_mid_run_leave_every_run_finished_exactly_once(any_db, tiny_grid, tmp_path):
    """Each worker's runs hold at a random step (16 a run) until the four kills are made, so a
    kill always finds a run somewhere between its start-up and that step, however fast the machine."""
    ids = enqueue_grid(any_db, tiny_grid(seeds="[1, 2, 3, 4, 5, 6]", epochs=2, train=60, eval=16), max_attempts=10)
    rng, go = random.Random(7), tmp_path / "go"

    def worker(n: int) -> subprocess.Popen:
        hold = {TEST_HOLD_ENV: f"step:{rng.randint(1, 16)}:{go}"}
        return start_worker(any_db, tmp_path / f"w{n}.log", env=hold)

    workers = [worker(i) for i in range(3)]
    kills = 0
    try:
        while kills < 4:  # kill a busy worker, start a new one in its place
            victims = wait_for(lambda: [w for w in workers if w.pid in busy_pids(any_db) and w.poll() is None],
                               timeout=300, what="a busy worker")
            time.sleep(rng.uniform(0.0, 1.0))  # somewhere between the run's start-up and its held step
            victim = rng.choice(victims)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            kills += 1
            workers.remove(victim)
            workers.append(worker(len(workers) + kills))
        go.touch()
        wait_for(lambda: all(r.status in ("succeeded", "failed") for r in runs(any_db)), timeout=600,
                 what="the study to finish")
    finally:
        go.touch()
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(timeout=60)
    failed = [(r.id, r.error) for r in runs(any_db) if r.status != "succeeded"]
    assert not failed, failed
    finished_exactly_once(any_db, ids)
    with Session(open_db(any_db)) as s:
        lost = s.exec(select(Attempt).where(Attempt.outcome == "lost")).all()
    assert lost  # the kills really hit runs: their attempts were taken back by lease expiry


@pytest.mark.slow
def test_a_reader_polling_status_never_fails_while_four_workers_write(any_db, tiny_grid, tmp_path):
    """The reader polls until every run is done and it has polled 5 times, all of it while the four
    workers live (running runs, then beating their hearts), so it overlaps their writes whatever the
    machine's speed; then the workers are stopped as a user stops them."""
    ids = enqueue_grid(any_db, tiny_grid(seeds="[1, 2, 3, 4, 5, 6, 7, 8]", epochs=1, train=40, eval=16))
    workers = [start_worker(any_db, tmp_path / f"w{i}.log") for i in range(4)]
    polls, problems = 0, []
    try:
        while polls < 5 or not all(r.status == "succeeded" for r in runs(any_db)):
            assert all(w.poll() is None for w in workers), "a worker ended before it was asked to"
            out = subprocess.run([sys.executable, "-m", "xltui.cli", "status", "--db", any_db], cwd=REPO,
                                 capture_output=True, text=True, timeout=120)
            polls += 1
            if out.returncode != 0 or "Traceback" in out.stderr:
                problems.append(out.stderr[-2000:])
            time.sleep(0.5)
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(timeout=120)
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
            w.wait()
    assert problems == []
    assert all(w.returncode == 0 for w in workers)
    finished_exactly_once(any_db, ids)
