"""What many machines on one database need, tried with real processes on real databases:
leases and heartbeats by the server's clock (a worker whose clock is hours off takes
nothing and loses nothing), bounded connections on PostgreSQL, SQLite refused from a
second host and warned about on network filesystems, an input artifact another host
cannot read failing the run at once, and an older database upgraded in place."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import Session, select

from engine.store.clock import db_now
from engine.store.db import open_db
from engine.store.meta import SCHEMA_VERSION
from engine.store.queries import live_workers
from engine.store.schema import Attempt, Run, Worker
from engine.store.sharing import filesystem_type, network_filesystem_warning
from tests.support.env import REPO, wait_for, xltui
from tests.support.workers import attempts, enqueue_grid, run_processes, runs, worker_pid

HOURS = 3 * 3600.0
# the CLI in a process whose own clock is off by SKEW seconds (time.time is what a worker would use)
SKEWED = ("import sys, time; _real, _skew = time.time, float(sys.argv.pop(1)); time.time = lambda: _real() + _skew; "
          "from xltui.cli import main; sys.argv[0] = 'xltui'; main()")


def skewed_worker(skew: float, *args: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SKEWED, str(skew), *args], cwd=REPO,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)


def test_the_clock_is_the_servers(any_db):
    engine = open_db(any_db)
    assert abs(db_now(engine) - time.time()) < 5  # the same host: the same clock, in the same unit


def _worker(skew: float, db: str, log: Path) -> subprocess.Popen:
    return skewed_worker(skew, "worker", "--db", db, "--cpu", "--lease", "2", "--poll", "0.1", log=log)


@pytest.mark.slow
def test_workers_whose_clocks_are_hours_off_neither_take_live_runs_nor_keep_dead_ones(pg_server, tiny_grid, tmp_path):
    """By its own clock, a worker 3 h ahead would see every lease as expired (and take live runs),
    and one 3 h ahead that dies would leave a lease that lasts 3 h; one 3 h behind would write
    leases that look expired to everyone. By the server's clock none of this happens.

    On PostgreSQL only: hosts whose clocks differ share a server database, never a SQLite file
    (refused from a second host); that SQLite's clock is its host's own is checked above."""
    any_db = pg_server.new_database()
    (run_id,) = enqueue_grid(any_db, tiny_grid(epochs=500, patience=500, train=200, eval=40))
    engine = open_db(any_db)
    procs: list[subprocess.Popen] = []

    def holder() -> tuple[str, int]:
        run = runs(any_db)[0]
        return run.status, run.attempts, worker_pid(run.worker_id) if run.worker_id else None

    try:
        behind = _worker(-HOURS, any_db, tmp_path / "behind.log")
        procs.append(behind)
        wait_for(lambda: holder()[:2] == ("running", 1), what="the worker 3 h behind to claim the run")
        ahead = _worker(HOURS, any_db, tmp_path / "ahead.log")
        procs.append(ahead)
        time.sleep(8)  # four lease periods of the worker behind, judged by the one ahead
        assert holder() == ("running", 1, behind.pid), (tmp_path / "ahead.log").read_text()
        assert abs(runs(any_db)[0].lease_expires_at - db_now(engine)) < 5  # the server's time + lease
        assert behind.pid in {w.pid for w in live_workers(engine)}  # its heartbeat is fresh by the server too
        behind.send_signal(signal.SIGKILL)
        wait_for(lambda: holder() == ("running", 2, ahead.pid), timeout=30, what="the worker ahead to take over")
        honest = _worker(0.0, any_db, tmp_path / "honest.log")
        procs.append(honest)
        time.sleep(6)
        assert holder() == ("running", 2, ahead.pid)
        ahead.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        # its lease, written 3 h ahead by its own clock, would keep the run for 3 h; the server's: 2 s
        wait_for(lambda: holder() == ("running", 3, honest.pid), timeout=30, what="the lease of the dead worker ahead")
        assert time.monotonic() - killed < 30
        assert [a.outcome for a in attempts(any_db, run_id)][:2] == ["lost", "lost"]
        xltui("cancel", str(run_id), "--db", any_db, check=True)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def pg_connections(pg_server, url: str) -> dict[str, int]:
    name = url.rsplit("/", 1)[1]
    out = pg_server.psql(f"SELECT application_name, count(*) FROM pg_stat_activity WHERE datname = '{name}' "
                         "GROUP BY application_name")
    return {line.split("|")[0]: int(line.split("|")[1]) for line in out.splitlines() if line}


@pytest.mark.slow
def test_a_worker_and_its_run_hold_one_connection_each_on_postgresql(pg_server, tiny_grid, tmp_path):
    url = pg_server.new_database()
    (run_id,) = enqueue_grid(url, tiny_grid(epochs=3, patience=3, train=200, eval=40))
    worker = subprocess.Popen([sys.executable, "-m", "xltui.cli", "worker", "--db", url, "--cpu", "--poll", "0.1",
                               "--exit-when-idle", "--lease", "2"], cwd=REPO,
                              stdout=open(tmp_path / "w.log", "wb"), stderr=subprocess.STDOUT)
    most: dict[str, int] = {}
    seen_run = False
    while worker.poll() is None:  # sample through the whole run: training, metric flushes, evaluation
        for app, n in pg_connections(pg_server, url).items():
            kind = "worker" if app.startswith("xltui worker") else "run" if app.startswith("xltui run") else app
            most[kind] = max(most.get(kind, 0), n)
            seen_run |= kind == "run"
        time.sleep(0.1)
    assert worker.returncode == 0, (tmp_path / "w.log").read_text()
    assert runs(url)[0].status == "succeeded"
    assert seen_run, most
    assert most["worker"] == 1 and most["run"] == 1, most  # 40 workers with a run each: 80 of 100


def test_filesystem_type_is_read_from_the_mount_table():
    mounts = ("/dev/sda1 / ext4 rw 0 0\n"
              "server:/export/home /home nfs4 rw,relatime 0 0\n"
              "lustre@tcp:/scratch /scratch/my\\040lab lustre rw 0 0\n")
    assert filesystem_type(Path("/home/ada/experiments.db"), mounts) == "nfs4"
    assert filesystem_type(Path("/homework/x.db"), mounts) == "ext4"  # a prefix of the name is not a parent
    assert filesystem_type(Path("/scratch/my lab/e.db"), mounts) == "lustre"
    warning = network_filesystem_warning(Path("/home/ada/experiments.db"), mounts)
    assert "nfs4" in warning and "PostgreSQL" in warning
    assert network_filesystem_warning(Path("/tmp/e.db"), mounts) is None
    assert filesystem_type(Path("/proc/self")) == "proc"  # the real table of this machine is read


def test_a_second_host_on_one_sqlite_file_is_refused_before_anything_is_queued(tiny_grid, tmp_path):
    db = str(tmp_path / "experiments.db")
    engine = open_db(db)
    now = db_now(engine)
    with Session(engine) as s:
        s.add(Worker(id="gpu-node-7:99:cuda:0", host="gpu-node-7", pid=99, device="cuda:0", started_at=now,
                     heartbeat_at=now, state="busy"))
        s.commit()
    out = xltui("worker", "--db", db, "--cpu", "--exit-when-idle")
    assert out.returncode == 2
    assert "already used by workers on gpu-node-7" in out.stderr and "PostgreSQL" in out.stderr
    grid = tiny_grid()
    out = xltui("run", "--grid", str(grid), "--db", db, "--cpu")
    assert out.returncode == 2 and "gpu-node-7" in out.stderr
    with Session(engine) as s:
        assert s.exec(select(Run)).all() == []  # nothing was queued


@pytest.mark.slow
def test_an_input_another_host_wrote_and_this_one_cannot_read_fails_the_run_at_once(pg_server, tiny_grid, tmp_path):
    """On PostgreSQL, the database of many hosts (the artifact check itself does not depend on the backend)."""
    any_db = pg_server.new_database()
    grid = tiny_grid(name="fs.yaml")
    grid.write_text(grid.read_text().replace("settings: [zero-shot]", "settings: [zero-shot, {few-shot: [4]}]"))
    assert len(enqueue_grid(any_db, grid)) == 3  # the zero-shot parent, a few-shot run per target language
    out = xltui("worker", "--db", any_db, "--cpu", "--exit-when-idle", "--study", "tiny", timeout=600, env={
        "XLTUI_ARTIFACTS": str(tmp_path / "artifacts")})
    assert all(r.status == "succeeded" for r in runs(any_db)), out.stdout
    engine = open_db(any_db)
    with Session(engine) as s:  # as if the parent had run on another machine, its disk not mounted here
        parent = s.exec(select(Run).where(Run.setting == "zero-shot")).one()
        attempt = s.get(Attempt, parent.attempt_id)
        attempt.worker_id = "gpu-node-3:1234:cuda:0"
        s.commit()
    from engine.store.queries import dependency_artifacts

    fewshot = next(r for r in runs(any_db) if r.setting != "zero-shot")
    checkpoint = Path(dependency_artifacts(engine, fewshot.id, "checkpoint")[None])
    checkpoint.rename(checkpoint.with_name("moved-away"))
    with Session(engine) as s:  # run the few-shot run again (retry takes failed runs)
        s.get(Run, fewshot.id).status = "failed"
        s.commit()
    xltui("retry", str(fewshot.id), "--db", any_db, check=True)
    started = time.monotonic()
    xltui("worker", "--db", any_db, "--cpu", "--exit-when-idle", timeout=600,
          env={"XLTUI_ARTIFACTS": str(tmp_path / "artifacts")})
    took = time.monotonic() - started
    run = next(r for r in runs(any_db) if r.id == fewshot.id)
    assert run.status == "failed"
    first_line = run.error.splitlines()[0]
    assert str(checkpoint) in first_line and "gpu-node-3" in first_line and "XLTUI_ARTIFACTS" in first_line
    assert run.attempts == 2  # failed once for good: retrying cannot make the path appear
    assert took < 60, took  # before any model was loaded (a generous bound on a loaded 2-core machine)


def test_a_database_of_the_previous_schema_is_upgraded_in_place_keeping_everything(tmp_path):
    db = tmp_path / "old.db"
    engine = open_db(str(db))
    now = db_now(engine)
    with Session(engine) as s:
        s.add(Worker(id="h:1:cpu", host="h", pid=1, device="cpu", started_at=now, heartbeat_at=now, state="stopped"))
        s.commit()
    engine.dispose()
    with sqlite3.connect(db) as conn:  # what version 1 looked like
        conn.execute("ALTER TABLE worker DROP COLUMN job_id")
        conn.execute("ALTER TABLE worker DROP COLUMN job_index")
        conn.execute("DROP TABLE clusterjob")
        conn.execute("DROP INDEX ix_run_claim_order")
        conn.execute("CREATE INDEX ix_run_claim ON run (status, priority, id)")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    out = xltui("status", "--db", str(db))
    assert out.returncode == 0, out.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert conn.execute("SELECT id, job_id FROM worker").fetchall() == [("h:1:cpu", None)]
        assert conn.execute("SELECT count(*) FROM clusterjob").fetchone() == (0,)
        indexes = {row[1] for row in conn.execute("PRAGMA index_list(run)")}
        assert "ix_run_claim_order" in indexes and "ix_run_claim" not in indexes


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGKILL])
def test_a_run_killed_from_outside_is_retried_as_a_new_attempt_with_the_signal_recorded(pg_server, tiny_grid,
                                                                                         tmp_path, signum):
    """On PostgreSQL; tests/runner/test_torture.py tries SIGTERM, SIGKILL, SIGKILL on SQLite."""
    any_db = pg_server.new_database()
    (run_id,) = enqueue_grid(any_db, tiny_grid(epochs=500, patience=500, train=200, eval=40), max_attempts=2)
    worker = subprocess.Popen([sys.executable, "-m", "xltui.cli", "worker", "--db", any_db, "--cpu", "--poll", "0.1",
                               "--exit-when-idle"], cwd=REPO, stdout=open(tmp_path / "w.log", "wb"),
                              stderr=subprocess.STDOUT)
    try:
        for attempt in (1, 2):  # the OOM killer, twice: retried once, then failed (max_attempts=2)
            wait_for(lambda a=attempt: runs(any_db)[0].attempts == a and run_processes(run_id, any_db),
                     timeout=120, what=f"attempt {attempt}'s process")
            for p in run_processes(run_id, any_db):
                p.send_signal(signum)
        assert worker.wait(timeout=120) == 0, (tmp_path / "w.log").read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
    run = runs(any_db)[0]
    assert (run.status, run.attempts) == ("failed", 2)
    tried = attempts(any_db, run_id)
    assert [a.outcome for a in tried] == ["failed", "failed"]
    assert all("killed by SIGKILL" in a.error for a in tried)
    assert "killed by SIGKILL" in run.error
