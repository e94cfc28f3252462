"""`--checkpoint-every` (issue 27): how often a run saves its training state is a worker option, not part
of the run. Every way of starting workers — `xltui worker`, `xltui run` in the foreground and
`--detach`ed — puts it in the environment of the run processes (``$XLTUI_CHECKPOINT_EVERY``, read by the
run); without it the runs get the worker's own variable; a bad value is one error line before anything is
written. (Slurm jobs: tests/runner/test_slurm_local.py and test_slurm_real.py.)"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from engine.runner.slot_setup import SlotOptions, checkpoint_cadence, run_env
from engine.settings import CHECKPOINT_EVERY_ENV
from tests.support.env import REPO, wait_for, xltui_here
from tests.support.workers import enqueue_grid, run_processes, runs


def test_the_runs_get_the_flag_else_the_workers_own_cadence(monkeypatch):
    monkeypatch.setenv(CHECKPOINT_EVERY_ENV, "1h")
    assert checkpoint_cadence(" 30m ") == "30m"  # the flag wins over the worker's variable
    assert checkpoint_cadence(None) == "1h"  # else the worker's own, checked
    assert checkpoint_cadence(None, {}) is None and checkpoint_cadence(None, {CHECKPOINT_EVERY_ENV: " "}) is None
    assert run_env(SlotOptions("sqlite:///x.db", "cpu", checkpoint_every="7"))[CHECKPOINT_EVERY_ENV] == "7"
    assert run_env(SlotOptions("sqlite:///x.db", "cpu"))[CHECKPOINT_EVERY_ENV] == "1h"  # passed on as it is
    monkeypatch.delenv(CHECKPOINT_EVERY_ENV)
    assert CHECKPOINT_EVERY_ENV not in run_env(SlotOptions("sqlite:///x.db", "cpu"))  # the run's default


@pytest.mark.parametrize("flag, where", [(" soon", "--checkpoint-every"), ("-5", "--checkpoint-every"),
                                         ("15 min", "--checkpoint-every"), (None, CHECKPOINT_EVERY_ENV)])
def test_a_bad_cadence_is_one_error_line_and_changes_nothing(flag, where, db, tiny_grid, tmp_path):
    grid = str(tiny_grid())
    enqueue_grid(db, tiny_grid(study="first", name="first.yaml"))
    before = _dump(db)
    given = ["--checkpoint-every", flag] if flag is not None else []
    env = {CHECKPOINT_EVERY_ENV: "weekly"} if flag is None else None
    for args in (["worker", "--cpu", "--exit-when-idle"], ["run", "--grid", grid, "--cpu"],
                 ["run", "--grid", grid, "--cpu", "--detach"],
                 ["slurm", "submit", "--workers", "1", "--cluster", "local", "--gpus-per-worker", "0"]):
        out = xltui_here(*args, *given, "--db", db, env=env)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {where}: ") \
            and "is not a checkpoint cadence" in lines[0], (args, out.stderr)
    assert _dump(db) == before  # nothing queued, no worker, no job
    assert not (Path(db).parent / "xltui-artifacts").exists()  # no worker log, no job folder


def _dump(db: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return list(conn.iterdump())


def _started(how: str, db: str, grid: Path, log: Path) -> int:
    """Start workers on ``db`` as ``how`` says, with ``--checkpoint-every 7`` while the caller's own variable
    says otherwise; the pid of the process to stop."""
    env = {**os.environ, CHECKPOINT_EVERY_ENV: "off"}
    flag = ["--checkpoint-every", "7"]
    if how == "worker":
        enqueue_grid(db, grid)
        args = ["worker", "--db", db, "--cpu", "--no-warm", "--poll", "0.1", *flag]
    else:
        args = ["run", "--grid", str(grid), "--db", db, "--cpu", "--no-warm", *flag,
                *(["--detach"] if how == "detach" else [])]
    if how == "detach":
        out = subprocess.run([sys.executable, "-m", "xltui.cli", *args], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        return int(re.search(r"\(pid (\d+)\)", out.stdout).group(1))
    return subprocess.Popen([sys.executable, "-m", "xltui.cli", *args], cwd=REPO, env=env,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT).pid


@pytest.mark.slow
@pytest.mark.parametrize("how", ["worker", "run", "detach"])
def test_checkpoint_every_reaches_the_run_process(how, db, tiny_grid, tmp_path):
    grid = tiny_grid(epochs=500, patience=500, train=200)
    pid = _started(how, db, grid, tmp_path / "worker.log")
    worker = psutil.Process(pid)
    try:
        (proc,) = wait_for(lambda: run_processes(1, db), what="the run's process")
        assert proc.environ()[CHECKPOINT_EVERY_ENV] == "7"  # the flag, over the worker's own "off"
    finally:
        worker.send_signal(signal.SIGTERM)  # the run goes back to the queue
        worker.wait(60)
    wait_for(lambda: not run_processes(1, db), timeout=60, what="the run's process to end")
    assert runs(db)[0].status == "queued"
