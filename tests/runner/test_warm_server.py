"""Workers whose slots fork their launcher from a warm server (engine.training.warm_server,
``$XLTUI_WARM_SERVER``): the launcher runs the worker's runs and ends with its worker; a server
refuses a worker whose environment would change what the imports read, and a server refused or
gone means a launcher of the slot's own; the server ends with the process that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from sqlmodel import Session

from engine.settings import WARM_SERVER_ENV
from engine.store import queue
from engine.store.db import open_db
from engine.store.schema import Run
from engine.training.warm_server import differences
from tests.support.env import REPO, wait_for, xltui, xltui_bg
from tests.support.warm import warm_server
from tests.support.workers import attempts, enqueue_grid, run_processes, runs


def ended(p: psutil.Process) -> bool:
    """Gone, or a zombie nobody has reaped yet."""
    try:
        return not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def gone(pid: int) -> bool:
    try:
        return ended(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def server(shared_warm_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    """The server this test's workers use (socket, pid): this test process's, else one of the test's own."""
    if shared_warm_server is not None:
        yield shared_warm_server
        return
    with warm_server(tmp_path) as (path, pid):
        monkeypatch.setenv(WARM_SERVER_ENV, path)
        yield path, pid


def test_only_the_variables_imports_read_decide_whether_the_server_serves():
    ours = {"HF_HOME": "/a", "GOMP_SPINCOUNT": "30000", "PATH": "/bin", "XLTUI_DB": "x", "OMP_NUM_THREADS": "2"}
    later = {**ours, "XLTUI_DB": "y", "XLTUI_DATA": "/d", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "0",
             "PYTEST_CURRENT_TEST": "t", "SLURM_JOB_ID": "7", "SUBMITIT_FOLDER": "/j", "TMPDIR": "/scratch"}
    assert differences(ours, later) == []
    other = {**ours, "HF_HOME": "/b", "TRANSFORMERS_OFFLINE": "1"}
    del other["GOMP_SPINCOUNT"]  # libgomp reads it as torch loads it
    assert differences(ours, other) == ["GOMP_SPINCOUNT", "HF_HOME", "TRANSFORMERS_OFFLINE"]


@pytest.mark.slow
def test_a_served_launcher_runs_the_worker_s_runs_and_ends_with_its_worker(db, tiny_grid, tmp_path, server):
    _path, server_pid = server
    (run_id,) = enqueue_grid(db, tiny_grid(epochs=500, patience=500, train=200, eval=40))
    log = tmp_path / "w1.log"
    w = xltui_bg("worker", "--db", db, "--cpu", "--lease", "2", "--poll", "0.1", log=log)
    try:
        (run,) = wait_for(lambda: run_processes(run_id, db), timeout=120, what="the run's process")
        launcher = run.parent()
        assert launcher.ppid() == server_pid, "the launcher was not forked by the server"
        assert os.getpgid(run.pid) == os.getsid(run.pid) == run.pid  # its own group and session
        assert os.getsid(launcher.pid) == launcher.pid != w.pid
        w.send_signal(signal.SIGKILL)
        w.wait()
        wait_for(lambda: ended(run) and ended(launcher), timeout=60, what="the launcher and its run to end")
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()
    assert "of this slot's own" not in log.read_text()
    assert not ended(psutil.Process(server_pid))  # it serves the next worker
    engine = open_db(db)
    wait_for(lambda: queue.requeue_expired(engine) == [run_id], timeout=30, what="the lost run's lease to expire")
    with Session(engine) as s:  # the same run, shorter, finished by a new worker's served launcher
        r = s.get(Run, run_id)
        r.spec_json = r.spec_json.replace('"epochs":500', '"epochs":1')
        s.commit()
    out = xltui("worker", "--db", db, "--cpu", "--exit-when-idle", "--lease", "2", "--poll", "0.1", check=True)
    assert "of this slot's own" not in out.stdout + out.stderr
    assert [a.outcome for a in attempts(db, run_id)] == ["lost", "succeeded"], out.stdout


@pytest.mark.slow
@pytest.mark.parametrize("case", ["other environment", "server gone"])
def test_a_worker_the_server_cannot_serve_imports_in_a_launcher_of_its_own(case, db, tiny_grid, tmp_path, server):
    path, _pid = server
    enqueue_grid(db, tiny_grid(train=24, eval=16))
    env, why = {"HF_HOME": str(tmp_path / "hf")}, "refused: its environment differs in HF_HOME"
    if case == "server gone":
        env, why = {WARM_SERVER_ENV: path + ".gone"}, "No such file or directory"
    out = xltui("worker", "--db", db, "--cpu", "--exit-when-idle", "--poll", "0.1", env=env, check=True)
    said = out.stdout + out.stderr
    assert f"{why}; starting a launcher of this slot's own" in said, said
    assert "starting the run cold" not in said  # its own launcher served the run
    assert [r.status for r in runs(db)] == ["succeeded"], said


STARTER = """
import subprocess, sys
server = subprocess.Popen([sys.executable, "-m", "engine.training.warm_server", sys.argv[1]], stdout=subprocess.PIPE)
server.stdout.readline()  # ready
print(server.pid, flush=True)
"""


@pytest.mark.slow
def test_the_server_ends_with_the_process_that_started_it(tmp_path):
    socket_path = tmp_path / "warm.sock"
    starter = subprocess.run([sys.executable, "-c", STARTER, str(socket_path)], cwd=REPO, capture_output=True,
                             text=True, timeout=600, check=True)
    pid = int(starter.stdout)
    wait_for(lambda: gone(pid), timeout=60, what="the orphaned server to exit")
    assert not socket_path.exists()
