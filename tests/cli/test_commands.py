"""The CLI as a user drives it: start-up without torch, clear errors that leave the
database untouched (in this process: an error ends before any worker starts), and a whole `xltui run --grid` whose stored F1 matches seqeval
on the stored predictions."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlmodel import Session, select

from engine.data.ner_eval import ner_scores, read_predictions
from engine.store.db import open_db
from engine.store.schema import Artifact, Result, Run
from tests.support.env import wait_for, xltui, xltui_here
from tests.support.workers import enqueue_grid

HELP_WITHOUT_TORCH = """
import sys
from typer.testing import CliRunner
from xltui.cli import app
runner = CliRunner()
for args in (["--help"], ["run", "--help"], ["worker", "--help"], ["status", "--help"], ["cancel", "--help"],
             ["retry", "--help"], ["grid", "--help"], ["grid", "validate", "--help"], ["grid", "show", "--help"]):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (args, result.output)
heavy = [m for m in ("torch", "transformers", "adapters", "datasets") if m in sys.modules]
assert not heavy, heavy
print("light")
"""


def dump(db: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        return list(conn.iterdump())


def test_help_of_every_command_does_not_import_torch():
    out = subprocess.run([sys.executable, "-c", HELP_WITHOUT_TORCH], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "light", out.stderr


@pytest.mark.parametrize("args, message", [
    (["run", "--grid", "GRID", "--gpus", "x,y"], "--gpus: expected comma-separated GPU indices"),
    (["run", "--grid", "GRID", "--cpu", "--gpus", "0"], "--cpu and --gpus exclude each other"),
    (["run", "--grid", "nowhere.yaml"], "nowhere.yaml"),
    (["run", "--grid", "GRID", "--frobnicate"], "No such option"),
    (["run", "--grid", "GRID", "--lease", "0"], "--lease"),
])
def test_bad_flags_fail_clearly_without_creating_a_database(args, message, db, tiny_grid):
    grid = str(tiny_grid())
    out = xltui_here(*[grid if a == "GRID" else a for a in args], "--db", db)
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert not Path(db).exists()


@pytest.mark.parametrize("value", ["two", "0", "-1"])
def test_a_bad_cpu_slots_variable_fails_clearly_without_creating_a_database(value, db, tiny_grid, monkeypatch):
    monkeypatch.setenv("XLTUI_CPU_SLOTS", value)
    for args in (["run", "--grid", str(tiny_grid()), "--cpu"], ["worker", "--cpu", "--exit-when-idle"]):
        out = xltui_here(*args, "--db", db)
        assert out.returncode == 2, out.stderr
        assert f"XLTUI_CPU_SLOTS: expected a whole number of runs side by side (1 or more), got {value!r}" \
            in out.stderr and "Traceback" not in out.stderr
    assert not Path(db).exists()


def test_a_bad_grid_leaves_the_database_as_it_was(db, tiny_grid, tmp_path):
    enqueue_grid(db, tiny_grid(study="first"))
    before = dump(db)
    bad = tmp_path / "bad.yaml"
    bad.write_text(tiny_grid(study="second").read_text().replace("seeds: [1]", "seeds: [one]"))
    out = xltui_here("run", "--grid", str(bad), "--db", db)
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: {bad}:10: seeds[0]: expected a list of integers"
    assert dump(db) == before


def test_status_and_cancel_on_a_missing_database_create_nothing(db):
    for args in (["status"], ["cancel", "1"], ["retry", "1"]):
        out = xltui_here(*args, "--db", db)
        assert out.returncode == 2 and "no database" in out.stderr
    assert not Path(db).exists()


def test_cancel_and_retry_report_runs_they_cannot_change(db, tiny_grid):
    enqueue_grid(db, tiny_grid())
    out = xltui_here("cancel", "1", "42", "--db", db)
    assert out.returncode == 1 and "run 42: no such run" in out.stderr


@pytest.mark.slow
def test_run_grid_end_to_end_scores_match_the_stored_predictions(db, tiny_grid, tmp_path):
    """On SQLite: training and scoring do not depend on the backend (tests/cli/test_results_commands.py
    reads stored runs back on both)."""
    any_db = db
    grid = tiny_grid(seeds="[1, 2]", epochs=2, train=60, eval=50)
    out = xltui("run", "--grid", str(grid), "--db", any_db, "--cpu", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 new" in out.stdout and "run 2 succeeded" in out.stdout
    engine = open_db(any_db, create=False)
    with Session(engine) as s:
        runs = s.exec(select(Run)).all()
        assert [r.status for r in runs] == ["succeeded", "succeeded"]
        for run in runs:
            preds = s.exec(select(Artifact).where(Artifact.run_id == run.id, Artifact.kind == "predictions")).all()
            assert {a.language for a in preds} == {"en", "swa", "yor"}
            for art in preds:
                tokens, gold, pred = read_predictions(art.path)
                split = "dev" if art.language == "en" else "test"
                expected = ner_scores(gold, pred)
                stored = {r.metric: r.value for r in s.exec(select(Result).where(
                    Result.attempt_id == run.attempt_id, Result.language == art.language, Result.split == split))}
                assert stored["n_sentences"] == len(tokens) == 50
                for metric in ("f1", "precision", "recall", "f1:PER", "f1:LOC", "f1:ORG"):
                    assert stored[metric] == pytest.approx(expected[metric], abs=1e-12), (art.language, metric)
    again = xltui("run", "--grid", str(grid), "--db", any_db, "--cpu", cwd=tmp_path)
    assert again.returncode == 0 and "0 new" in again.stdout and "2 already in the database" in again.stdout
    shown = xltui("grid", "show", str(grid), "--db", any_db, check=True)
    assert shown.stdout.count("succeeded") >= 2 and "2 of 2 already succeeded" in shown.stdout


@pytest.mark.slow
def test_run_exits_non_zero_when_a_run_fails(db, tiny_grid, tmp_path):
    model = tmp_path / "broken-model"
    model.mkdir()
    (model / "config.json").write_text("{}")  # a directory that looks like a model but is not one
    grid = tmp_path / "broken.yaml"
    grid.write_text(tiny_grid().read_text().replace("model: tiny", f"model: {model}"))
    out = xltui("run", "--grid", str(grid), "--db", db, "--cpu", cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "1 run(s) failed" in out.stderr
    status = xltui("status", "--db", db, "--failed", check=True)
    assert "failed" in status.stdout and "broken-model" in status.stdout


def _start_run(grid: Path, db: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "xltui.cli", "run", "--grid", str(grid), "--db", db, "--cpu"],
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)


@pytest.mark.slow
def test_ctrl_c_once_finishes_the_current_run_and_leaves_the_rest_queued(db, tiny_grid, tmp_path):
    from tests.support.workers import run_processes, runs

    proc = _start_run(tiny_grid(seeds="[1, 2]", epochs=3, train=100), db, tmp_path / "run.log")
    wait_for(lambda: run_processes(1, db), what="run 1 to start")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=300) == 130, (tmp_path / "run.log").read_text()
    assert [r.status for r in runs(db)] == ["succeeded", "queued"]
    assert "1 run(s) of tiny not done" in (tmp_path / "run.log").read_text()


@pytest.mark.slow
def test_ctrl_c_twice_stops_the_current_run_and_requeues_it(db, tiny_grid, tmp_path):
    from tests.support.workers import run_processes, runs

    proc = _start_run(tiny_grid(epochs=500, patience=500, train=200), db, tmp_path / "run.log")
    wait_for(lambda: run_processes(1, db), what="run 1 to start")
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130, (tmp_path / "run.log").read_text()
    (run,) = runs(db)
    assert run.status == "queued" and run.attempts == 1


@pytest.mark.slow
def test_detach_queues_and_a_background_worker_finishes_the_study(db, tiny_grid, tmp_path):
    from tests.support.workers import runs

    out = xltui("run", "--grid", str(tiny_grid()), "--db", db, "--cpu", "--detach", check=True)
    assert "worker started in the background" in out.stdout
    wait_for(lambda: runs(db)[0].status == "succeeded", timeout=180, what="the detached worker to finish")
    log = next((Path(db).parent / "xltui-artifacts" / "workers").glob("worker-*.log"))
    wait_for(lambda: "worker stopped after 1 run(s)" in log.read_text(), timeout=30, what="the worker to exit")
    assert "run 1 succeeded" in log.read_text()
