"""A resumed run's story as the store reads it: one curve over its attempts with the redone points
left out (engine.store.live_reads), how its latest attempt resumed (engine.store.queue_reads), and
an older database gaining the columns that record it."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text

from engine.store.db import open_db
from engine.store.live_reads import merge_attempt_series, run_series, story_start
from engine.store.meta import SCHEMA_VERSION
from engine.store.queue_reads import Resume, latest_resumes
from engine.store.reader import open_reader
from tests.support.resumed_runs import TOTAL_STEPS, build_resumed_run, value_of


def pts(attempt: int, steps) -> list[tuple[int, float]]:
    return [(s, value_of(attempt, s)) for s in steps]


def test_points_an_interrupted_attempt_logged_past_the_next_ones_resume_are_left_out():
    merged = merge_attempt_series([None, 200, 400], [pts(1, range(1, 251)), pts(2, range(201, 451)),
                                                     pts(3, range(401, 501))])
    assert [s for s, _ in merged] == list(range(1, 501))
    assert merged == pts(1, range(1, 201)) + pts(2, range(201, 401)) + pts(3, range(401, 501))


def test_at_equal_steps_the_later_attempt_wins():
    # each attempt logs total_steps at step 0; the second redid the dev evaluation at the step it resumed at
    assert merge_attempt_series([None, 200], [pts(1, [0]), pts(2, [0])]) == pts(2, [0])
    assert merge_attempt_series([None, 200], [pts(1, [100, 200]), pts(2, [200, 300])]) == \
        pts(1, [100]) + pts(2, [200, 300])


def test_an_attempt_that_started_from_step_0_ends_the_earlier_story():
    assert story_start([None, 200, None, 50]) == 2
    assert merge_attempt_series([None, 200, None, 50], [pts(1, range(1, 300)), pts(2, range(201, 400)),
                                                        pts(3, range(1, 80)), pts(4, range(51, 60))]) == \
        pts(3, range(1, 51)) + pts(4, range(51, 60))


def test_a_fresh_start_is_step_0_and_an_attempt_that_never_reached_its_loop_is_passed_over():
    assert story_start([0, 200, None, 350]) == 0  # attempt 3 died loading: attempt 4 still continues the story
    assert story_start([0, 200, 0, None]) == 2  # attempt 3 started over
    assert merge_attempt_series([0, None, 2], [[(1, 1.0), (2, 1.0), (3, 1.0)], [], [(3, 3.0)]]) == \
        [(1, 1.0), (2, 1.0), (3, 3.0)]


def test_a_later_resume_below_an_earlier_one_cuts_every_attempt_before_it():
    # attempt 3 fell back to an older state (step 100) than the one attempt 2 resumed from (200)
    merged = merge_attempt_series([None, 200, 100], [pts(1, range(1, 251)), pts(2, range(201, 301)),
                                                     pts(3, range(101, 151))])
    assert merged == pts(1, range(1, 101)) + pts(3, range(101, 151))


def test_one_attempt_is_its_own_curve_and_mismatched_input_is_refused():
    assert merge_attempt_series([None], [pts(1, range(5))]) == pts(1, range(5))
    assert merge_attempt_series([], []) == []
    with pytest.raises(ValueError, match="2 resumed steps for 1 series"):
        merge_attempt_series([None, 3], [pts(1, range(5))])


@pytest.mark.parametrize("any_db", ["sqlite", "postgresql"], indirect=True)
def test_a_stored_run_of_three_attempts_reads_as_one_curve(any_db):
    run = build_resumed_run(any_db)
    with open_reader(any_db) as reader:
        loss = run_series(reader, run.run_id, "train_loss")
        dev = run_series(reader, run.run_id, "dev_score")
        total = run_series(reader, run.run_id, "total_steps")
        stored = reader.rows("SELECT count(*) FROM metricpoint WHERE name = 'train_loss'")[0][0]
    assert stored == 250 + 250 + 100  # every attempt's points are kept in the database
    assert [s for s, _ in loss] == list(range(1, 501))  # each step once
    assert loss == pts(1, range(1, 201)) + pts(2, range(201, 401)) + pts(3, range(401, 501))
    assert dev == pts(1, [100]) + pts(2, [200, 300]) + pts(3, [400, 500])  # redone evaluations win
    assert total == [(0, float(TOTAL_STEPS))]


@pytest.mark.parametrize("any_db", ["sqlite", "postgresql"], indirect=True)
def test_the_latest_attempts_resume_with_the_runs_total_steps(any_db):
    run = build_resumed_run(any_db)
    expected = {run.run_id: Resume(attempt=3, step=400, redone=50, total_steps=TOTAL_STEPS)}
    with open_reader(any_db) as reader:
        assert latest_resumes(reader) == expected
        assert latest_resumes(reader, run.attempt_ids) == expected  # only the latest attempt counts
        assert latest_resumes(reader, run.attempt_ids[:1]) == {}  # attempt 1 started from step 0
    with run.engine.begin() as conn:  # the resumed attempt has not logged its total yet: an earlier one's
        conn.execute(text("DELETE FROM metricpoint WHERE name = 'total_steps' AND attempt_id = :a"),
                     {"a": run.attempt_ids[2]})
    with open_reader(any_db) as reader:
        assert latest_resumes(reader)[run.run_id].total_steps == TOTAL_STEPS
    with run.engine.begin() as conn:
        conn.execute(text("DELETE FROM metricpoint WHERE name = 'total_steps'"))
    with open_reader(any_db) as reader:
        assert latest_resumes(reader)[run.run_id].total_steps is None


def test_a_latest_attempt_from_step_0_is_no_resume(db):
    run = build_resumed_run(db, ((None, None, 250), (200, 50, 450), (None, None, 30)))
    with open_reader(db) as reader:
        assert latest_resumes(reader) == {}
        assert run_series(reader, run.run_id, "train_loss") == pts(3, range(1, 31))


def test_a_version_3_database_gains_the_resume_columns_keeping_its_attempts(db):
    run = build_resumed_run(db)
    run.engine.dispose()
    with sqlite3.connect(db) as conn:  # what version 3 looked like
        conn.execute("ALTER TABLE attempt DROP COLUMN resumed_step")
        conn.execute("ALTER TABLE attempt DROP COLUMN redone_steps")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    assert SCHEMA_VERSION == 4
    open_db(db, create=False).dispose()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert conn.execute("SELECT number, resumed_step, redone_steps FROM attempt ORDER BY number").fetchall() == \
            [(1, None, None), (2, None, None), (3, None, None)]
    with open_reader(db) as reader:  # as before resumes existed: the run's latest attempt, on its own
        assert latest_resumes(reader) == {}
        assert run_series(reader, run.run_id, "train_loss") == pts(3, range(401, 501))
