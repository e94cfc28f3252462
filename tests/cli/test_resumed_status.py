"""`xltui status` says where a run's latest attempt resumed, as a user's shell shows it."""

from __future__ import annotations

import sqlite3

from engine.spec import Outcome
from engine.store import queue
from tests.support.env import xltui
from tests.support.resumed_runs import build_resumed_run

WIDE = {"COLUMNS": "200"}  # a cell wider than the terminal wraps; these tests read whole lines


def test_status_says_where_the_running_and_the_finished_run_resumed(db):
    run = build_resumed_run(db)
    for args in (("status",), ("status", "--runs")):  # the Running table, then every run
        out = xltui(*args, "--db", db, env=WIDE, check=True).stdout
        assert "resumed at step 400 of 600 (attempt 3)" in out, out
        assert "500/600" in out  # its progress goes on from there
    assert queue.finish(run.engine, run.claim, "w", Outcome.SUCCEEDED)
    out = xltui("status", "--runs", "--db", db, env=WIDE, check=True).stdout
    assert "succeeded" in out and "resumed at step 400 of 600 (attempt 3)" in out, out


def test_without_a_total_the_status_says_only_the_step(db):
    build_resumed_run(db)
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM metricpoint WHERE name = 'total_steps'")
    out = xltui("status", "--runs", "--db", db, env=WIDE, check=True).stdout
    assert "resumed at step 400 (attempt 3)" in out and " of " not in out.split("resumed")[1].splitlines()[0], out


def test_a_run_that_never_resumed_says_nothing_of_it(db):
    build_resumed_run(db, ((None, None, 30),))
    out = xltui("status", "--runs", "--db", db, env=WIDE, check=True).stdout
    assert "30/600" in out and "resumed" not in out, out
