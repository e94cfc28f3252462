"""A database password never shows: not in a message, a log line, a screen, a command line anyone
can read (``ps``), or an exported file.

A real PostgreSQL server (tests/support/pg.py) with a user whose password is distinctive and holds a /
as typed (so a mask that stops at the first / is caught); the real CLI in fresh interpreters, as
a user runs it, through connection errors, a study run by a detached worker, `xltui status`,
`xltui worker`, `xltui results` exports, `xltui db backup`, and the app itself. Every check looks
for ``S3cr3t`` alone, so a password shown in part is caught too; where a URL is shown, its
masked form (``***``) must be there instead.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest
import typer

from engine.settings import WARM_SERVER_ENV, mask_url, scrub, shown_db, url_secrets
from engine.store.db import open_db, safe_url
from tests.support.env import DATA, REPO, TINY_GRID, xltui
from tests.support.tui import run, screen_text, until
from xltui.errors import UserError, handle_errors

USER = "secretive"
PASSWORD = "S3cr3t/pw-xyz"  # a raw / on purpose: shown_db's old mask stopped at it
WRONG = "Wr0ng/pw-abc"
MARKS = ("S3cr3t", "Wr0ng")  # a fragment of either password anywhere is a leak


def leaks(text: str) -> list[str]:
    return [m for m in MARKS if m in text]


def assert_clean(text: str, where: str) -> None:
    found = leaks(text)
    assert not found, f"{where} shows a password ({found}):\n{text[-3000:]}"


# -- the masks themselves (no server) ------------------------------------------------------------

URL_FORMS = [  # a URL, and the password as the driver gets it
    ("postgresql+psycopg://u:S3cr3t@h:5432/db", "S3cr3t"),
    ("postgresql+psycopg://u:S3cr3t/pw@h/db", "S3cr3t/pw"),  # a raw / (the old shown_db mask stopped there)
    ("postgresql+psycopg://u:S3cr3t@pw@h/db", "S3cr3t"),  # a raw @ (SQLAlchemy ends the password at the first)
    ("postgresql+psycopg://u:S3cr3t%2Fpw%40x@h/db", "S3cr3t/pw@x"),  # percent-encoded, as the docs ask
    ("postgresql+psycopg://u@h/db?password=S3cr3t&sslmode=disable", "S3cr3t"),  # libpq's query parameter
    ("postgresql+psycopg:///db?host=/tmp&user=u&password=S3cr3t%2F", "S3cr3t/"),
]


@pytest.mark.parametrize(("url", "password"), URL_FORMS)
def test_every_way_of_writing_a_password_is_masked(url, password):
    for shown in (safe_url(url), shown_db(url), mask_url(url)):
        assert "S3cr3t" not in shown and "***" in shown, (url, shown)
    error = f"cannot connect to {url} as {safe_url(url)}: the password {password!r} of user u was refused"
    assert "S3cr3t" not in scrub(error, url), scrub(error, url)
    assert any("S3cr3t" in s for s in url_secrets(url))


def test_a_url_without_a_password_is_shown_as_it_is():
    for url in ("postgresql+psycopg://u@h:5432/db", "postgresql+psycopg://h/db?sslmode=disable"):
        assert safe_url(url) == shown_db(url) == url and url_secrets(url) == []
    assert shown_db("sqlite:////tmp/x.db") == "/tmp/x.db"


def test_an_error_or_a_bug_in_a_command_is_printed_without_the_password(capsys, monkeypatch):
    url = "postgresql+psycopg://u:S3cr3t/pw@h/db"

    @handle_errors
    def command(db: str | None = None, fail: type[Exception] = RuntimeError) -> None:
        raise fail(f"the server at {url} said no (password S3cr3t/pw)")

    for fail, code in ((UserError, 2), (RuntimeError, 1)):  # a user error: one line; a bug: its traceback
        with pytest.raises(typer.Exit) as exit_:
            command(db=url, fail=fail)
        assert exit_.value.exit_code == code
        err = capsys.readouterr().err
        assert_clean(err, f"a {fail.__name__}")
        assert "u:***@h/db" in err and ("Traceback" in err) == (fail is RuntimeError)
    monkeypatch.setenv("XLTUI_DB", url)  # given by the environment, not --db
    with pytest.raises(typer.Exit):
        command(fail=UserError)
    assert_clean(capsys.readouterr().err, "an error with $XLTUI_DB")

    @handle_errors
    def harmless(db: str | None = None) -> None:
        raise KeyError("no secret here")

    with pytest.raises(KeyError):  # a traceback without a password is left to Python, as before
        harmless(db=url)


# -- a real server -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secret_db(pg_server) -> str:
    """A database owned by a user with a distinctive password; its URL, as a user writes it."""
    name = f"secrets{os.getpid()}"
    if not pg_server.psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{USER}'"):
        pg_server.psql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
    pg_server.psql(f"CREATE DATABASE {name} OWNER {USER}")
    return f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:{pg_server.port}/{name}"


@pytest.fixture(scope="module")
def home(tmp_path_factory, cache_dir) -> tuple[Path, dict[str, str]]:
    """A working folder and the environment every command of this module runs with."""
    folder = tmp_path_factory.mktemp("secrets")
    env = {"XLTUI_DATA": str(DATA), "XLTUI_CACHE": str(cache_dir), "XLTUI_CPU_SLOTS": "1",
           "XLTUI_ARTIFACTS": str(folder / "artifacts")}
    return folder, env


def cli(home: tuple[Path, dict[str, str]], *args: str, code: int | None = 0):
    folder, env = home
    out = xltui(*args, cwd=folder, env=env, timeout=300)
    assert_clean(out.stdout + out.stderr, f"`xltui {' '.join(a for a in args if 'S3cr3t' not in a)}`")
    if code is not None:
        assert out.returncode == code, f"exit {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out


def test_connection_errors_name_the_server_not_the_password(secret_db, home, pg_server):
    wrong = secret_db.replace(PASSWORD, WRONG)
    closed = secret_db.replace(f":{pg_server.port}/", ":1/")
    for bad, why in ((wrong, "password authentication failed"), (closed, "Connection refused")):
        for command in (("status",), ("worker", "--cpu", "--exit-when-idle"), ("cancel", "1"), ()):
            out = cli(home, *command, "--db", bad, code=2)  # () is the app (no terminal: the error first)
            assert why in out.stderr and "***@127.0.0.1" in out.stderr, out.stderr
        folder, env = home
        via_env = xltui("status", cwd=folder, env={**env, "XLTUI_DB": bad})
        assert via_env.returncode == 2 and why in via_env.stderr
        assert_clean(via_env.stdout + via_env.stderr, "`xltui status` with $XLTUI_DB")


def test_backup_hint_masks_the_url(secret_db, home, tmp_path):
    out = cli(home, "db", "backup", str(tmp_path / "copy.db"), "--db", secret_db, code=2)
    assert "pg_dump" in out.stderr and f"{USER}:***@127.0.0.1" in out.stderr, out.stderr


def test_a_password_given_as_a_query_parameter_is_masked_too(secret_db, home):
    query_form = secret_db.replace(f":{PASSWORD}@", "@") + f"?password={PASSWORD}"
    out = cli(home, "worker", "--cpu", "--exit-when-idle", "--db", query_form)
    assert "password=***" in out.stdout, out.stdout


@pytest.fixture(scope="module")
def studied(secret_db, home):
    """A study run by a detached worker (`xltui run --detach`): every process's command line is
    watched while it runs; what it leaves (worker log, run log, run_info.json) is read after."""
    folder, env = home
    grid = folder / "grid.yaml"
    grid.write_text(TINY_GRID.format(study="hush", seeds="[1]", epochs=1, train=24, eval=16, patience=2))
    own = (folder, {**env, WARM_SERVER_ENV: ""})  # its launcher its own child: that command line is watched too
    out = cli(own, "run", "--grid", str(grid), "--db", secret_db, "--cpu", "--detach")
    pid = int(out.stdout.split("(pid ")[1].split(")")[0])
    (log,) = (folder / "artifacts" / "workers").glob("worker-*.log")  # the path printed may wrap
    seen: dict[int, str] = {}  # the worker, its launcher or a run that showed a password on its command line
    watched: dict[int, str] = {}  # every process of the worker's, as first seen
    deadline = time.monotonic() + 300
    try:
        worker = psutil.Process(pid)
        while worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, f"the detached worker did not finish:\n{log.read_text()}"
            for p in (worker, *worker.children(recursive=True)):
                try:
                    line = " ".join(p.cmdline())
                except psutil.Error:  # gone meanwhile
                    continue
                watched.setdefault(p.pid, line)
                if leaks(line):
                    seen[p.pid] = line
            time.sleep(0.1)
    except psutil.NoSuchProcess:
        pass
    return {"worker_pid": pid, "worker_log": log, "leaky_cmdlines": seen, "watched": watched, "run_out": out}


def test_a_detached_worker_gets_the_url_off_its_command_line(studied):
    watched = list(studied["watched"].values())
    assert any("xltui.cli worker" in line for line in watched), watched  # it was seen
    assert any("engine.training.launcher" in line for line in watched), watched  # and its launcher
    assert studied["leaky_cmdlines"] == {}, studied["leaky_cmdlines"]
    text = studied["worker_log"].read_text()
    assert "worker stopped after 1 run(s)" in text and "run 1 succeeded" in text, text
    assert f"postgresql+psycopg://{USER}:***@127.0.0.1" in text, text
    assert_clean(text, "the detached worker's log")


def test_no_file_the_study_left_holds_the_password(studied, home):
    folder, _ = home
    files = [p for p in (folder / "artifacts").rglob("*") if p.is_file()]
    assert any(p.name == "run_info.json" for p in files) and any(p.suffix == ".log" for p in files), files
    for path in files:
        assert_clean(path.read_bytes().decode("utf-8", "replace"), str(path))


def test_status_worker_and_results_show_no_password(studied, secret_db, home, tmp_path):
    for flags in ((), ("--runs",), ("--failed",)):
        out = cli(home, "status", "--db", secret_db, *flags)
        assert "hush" in out.stdout
    out = cli(home, "worker", "--db", secret_db, "--cpu", "--exit-when-idle", "--poll", "0.1")
    assert f"postgresql+psycopg://{USER}:***@127.0.0.1" in out.stdout, out.stdout
    assert "worker stopped after 0 run(s)" in out.stdout
    cli(home, "results", "hush", "--db", secret_db)  # the table, to stdout
    for fmt, ext in (("csv", "csv"), ("latex", "tex"), ("json", "json"), ("markdown", "md")):
        path = tmp_path / f"report.{ext}"
        cli(home, "results", "hush", "--db", secret_db, "--format", fmt, "--output", str(path))
        text = path.read_text()
        assert "swa" in text, text
        assert_clean(text, f"the {fmt} export")
        cli(home, "results", "hush", "--db", secret_db, "--format", fmt)  # to stdout


def test_a_cluster_job_keeps_the_url_in_its_private_pickle_only(studied, secret_db, home):
    """submitit's job (the local executor: the same job as on Slurm) gets the URL in the pickled
    WorkerJob, in a folder only its user may read; its script, logs and output show none."""
    folder, _ = home
    out = cli(home, "slurm", "submit", "--workers", "1", "--cluster", "local", "--gpus-per-worker", "0",
              "--time", "30", "--poll", "0.2", "--db", secret_db)
    job = out.stdout.split("job ")[1].split(":")[0]
    deadline = time.monotonic() + 120
    try:
        while (p := psutil.Process(int(job))).is_running() and p.status() != psutil.STATUS_ZOMBIE:
            for q in (p, *p.children(recursive=True)):
                try:
                    assert_clean(" ".join(q.cmdline()), "a cluster job's command line")
                except psutil.Error:
                    continue
            assert time.monotonic() < deadline, "the job did not end with the queue empty"
            time.sleep(0.1)
    except psutil.NoSuchProcess:
        pass
    (jobs,) = (folder / "artifacts" / "slurm").iterdir()
    assert jobs.stat().st_mode & 0o077 == 0  # private to its user
    files = [f for f in jobs.rglob("*") if f.is_file()]
    assert any(f.name.endswith("_log.out") for f in files), files
    for path in files:
        if path.suffix != ".pkl":
            assert_clean(path.read_bytes().decode("utf-8", "replace"), str(path))
    logs = " ".join(f.read_text() for f in files if f.name.endswith("_log.out"))
    assert "(task 0) on" in logs and "Job completed successfully" in logs, logs
    cli(home, "slurm", "status", "--db", secret_db)


def test_the_app_shows_the_database_masked(studied, secret_db, monkeypatch):
    from xltui.app import XltuiApp
    from xltui.tui.workers_screen import WorkersScreen

    shown: list[str] = []

    async def drive() -> None:
        app = XltuiApp(secret_db, poll_s=0.3, gpu_probe=None)
        async with app.run_test(size=(140, 40)) as pilot:
            shown.append(screen_text(app))  # the loading frame
            await until(pilot, lambda: app.snapshot is not None, what="a first snapshot")
            await pilot.pause(0.3)
            shown.append(screen_text(app))
            await pilot.press("4")
            await until(pilot, lambda: isinstance(app.screen, WorkersScreen), what="the workers screen")
            await pilot.pause(0.3)
            shown.append(screen_text(app))
            await pilot.press("3")
            await pilot.pause(0.5)
            shown.append(screen_text(app))

    run(drive())
    assert f"{USER}:***@127.0.0.1" in shown[1], shown[1]
    for text in shown:
        assert_clean(text, "the app's screen")

    failed: list[str | None] = []

    async def wrong_password() -> None:
        app = XltuiApp(secret_db.replace(PASSWORD, WRONG), gpu_probe=None)
        async with app.run_test(size=(140, 40)) as pilot:
            await until(pilot, lambda: app.startup_error is not None, what="the start-up error")
            failed.append(app.startup_error)

    run(wrong_password())
    assert "password authentication failed" in failed[0] and "***" in failed[0]
    assert_clean(failed[0], "the app's start-up error")


def test_a_crash_of_the_app_prints_no_password(studied, secret_db, capsys):
    """Textual prints a crash with the values of local variables: a URL, or the driver's
    connection arguments, in any frame would show the password."""
    from xltui.app import XltuiApp

    def lost() -> None:
        url, cparams = secret_db, {"user": USER, "password": PASSWORD}  # noqa: F841 - locals, as in a driver
        raise RuntimeError(f"the server behind {url} went away")

    async def drive() -> None:
        app = XltuiApp(secret_db, poll_s=0.3, gpu_probe=None)
        async with app.run_test(size=(140, 40)) as pilot:
            await until(pilot, lambda: app.snapshot is not None, what="a first snapshot")
            app.call_later(lost)
            await pilot.pause(0.5)

    with pytest.raises(RuntimeError):
        run(drive())
    err = capsys.readouterr().err
    assert "RuntimeError" in err and f"{USER}:***@127.0.0.1" in err, err
    assert_clean(err, "the app's crash report")


def test_a_run_process_reads_the_url_from_the_environment(secret_db, home, tmp_path):
    folder, env = home
    import subprocess

    open_db(secret_db)  # the tables exist (run alone, no test before it has made them)

    out = subprocess.run([sys.executable, "-m", "engine.training.run", "--run", "999999", "--attempt", "1",
                          "--worker", "w", "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                         timeout=120, env={**os.environ, **env, "XLTUI_DB": secret_db})
    assert out.returncode == 2 and f"run 999999 is not in postgresql+psycopg://{USER}:***@" in out.stderr, out.stderr
    assert_clean(out.stdout + out.stderr, "a run process")


def test_a_cold_run_gets_the_url_off_its_command_line(studied, secret_db, home, tmp_path):
    from tests.support.workers import enqueue_grid

    folder, env = home
    grid = folder / "grid.yaml"
    enqueue_grid(secret_db, grid, rerun=True)
    log = open(tmp_path / "worker.log", "wb")
    worker = psutil.Popen([sys.executable, "-m", "xltui.cli", "worker", "--cpu", "--exit-when-idle", "--no-warm",
                           "--poll", "0.1"], cwd=folder, stdout=log, stderr=log,
                          env={**os.environ, **env, "XLTUI_DB": secret_db})
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None and not seen:
            for child in worker.children(recursive=True):
                try:
                    line = " ".join(child.cmdline())
                except psutil.Error:
                    continue
                if "engine.training.run" in line:
                    seen.append(line)
            time.sleep(0.05)
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)  # its run goes back to the queue
        worker.wait(timeout=60)
        log.close()
    assert seen, (tmp_path / "worker.log").read_text()
    assert_clean(seen[0], "a cold run's command line")
