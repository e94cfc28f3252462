"""A run's process (engine.runner.run_process) against real processes: its own session and
process group, a kill that takes the group with it (a child included), SIGKILL after the
grace for a process that ignores SIGTERM, its output in the log, and the cold start of the
real run module."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import psutil

from engine.runner.run_process import RunProcess
from engine.settings import DB_ENV
from engine.store.db import db_url, open_db
from tests.support.env import REPO, wait_for

# a process that starts a child (both in its group), says both pids in a file, then sleeps;
# with "ignore" both ignore SIGTERM (a child inherits an ignored signal across exec)
PARENT = textwrap.dedent("""
    import signal, subprocess, sys, time
    out, mode = sys.argv[1], sys.argv[2]
    if mode == "ignore":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(out + ".tmp", "w") as f:
        f.write(f"{child.pid}")
    import os; os.rename(out + ".tmp", out)
    print("parent up", flush=True)
    print("on stderr", file=sys.stderr, flush=True)
    time.sleep(600)
""")


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def start_parent(tmp_path: Path, mode: str = "") -> tuple[RunProcess, int, Path]:
    pids, log_path = tmp_path / "child.pid", tmp_path / "run.log"
    with open(log_path, "ab") as log:
        proc = RunProcess.cold([sys.executable, "-c", PARENT, str(pids), mode or "plain"], log=log)
    child = int(wait_for(lambda: pids.is_file() and pids.read_text(), timeout=30, what="the child's pid"))
    return proc, child, log_path


def reap(*pids: int) -> None:
    """Whatever a failed test left alive goes."""
    for pid in pids:
        if not gone(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_run_process_leads_its_own_session_and_a_kill_takes_its_group(tmp_path):
    proc, child, log_path = start_parent(tmp_path)
    try:
        assert os.getsid(proc.pid) == proc.pid and os.getpgid(proc.pid) == proc.pid  # a Ctrl-C at our terminal misses it
        assert os.getpgid(child) == proc.pid  # its child is in its group
        assert proc.wait(0.05) is None and proc.returncode is None
        wait_for(lambda: "on stderr" in log_path.read_text(), timeout=30, what="its output in the log")
        assert "parent up" in log_path.read_text()  # stdout and stderr both
        proc.kill(grace_s=30)
        assert proc.returncode == -signal.SIGTERM  # it went at the SIGTERM, well before the grace
        wait_for(lambda: gone(child), timeout=30, what="the child to go with its group")
    finally:
        reap(proc.pid, child)


def test_a_process_that_ignores_sigterm_gets_sigkill_after_the_grace(tmp_path):
    proc, child, _ = start_parent(tmp_path, "ignore")
    try:
        started = time.monotonic()
        proc.kill(grace_s=1.0)
        assert time.monotonic() - started >= 1.0  # SIGTERM was sent and ignored for the whole grace
        assert proc.returncode == -signal.SIGKILL
        wait_for(lambda: gone(child), timeout=30, what="the child, which ignored SIGTERM too, to be killed")
    finally:
        reap(proc.pid, child)


def test_a_process_that_ended_is_waited_once_and_signals_to_its_gone_group_are_harmless(tmp_path):
    proc = RunProcess.cold([sys.executable, "-c", "import sys; sys.stdin.read(); sys.exit(7)"])  # stdin: nothing
    assert proc.wait(60) == 7 and proc.returncode == 7
    proc.kill()  # nothing to do
    assert proc.signal(signal.SIGTERM) is False  # its group is gone


def test_a_cold_start_runs_the_run_module_with_its_parent_and_the_url_in_its_environment(tmp_path):
    db = tmp_path / "experiments.db"
    open_db(str(db))
    log_path = tmp_path / "run.log"
    env = {**os.environ, DB_ENV: db_url(str(db)), "PYTHONPATH": str(REPO)}
    with open(log_path, "ab") as log:
        proc = RunProcess.start(["--run", "999", "--attempt", "1", "--worker", "w", "--out", str(tmp_path / "out")],
                                env=env, cwd=str(REPO), log=log, log_path=str(log_path))
    # Popen returns as exec closes its pipe, a moment before the kernel has set the new command line
    cmd = wait_for(lambda: psutil.Process(proc.pid).cmdline(), timeout=30, what="its command line")
    assert cmd[:3] == [sys.executable, "-m", "engine.training.run"] and cmd[-2:] == ["--parent-pid", str(os.getpid())]
    assert proc.wait(120) == 2, log_path.read_text()  # no such run: it says so and exits 2
    assert "run 999 is not in" in log_path.read_text()
