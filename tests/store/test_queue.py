"""The queue on a real SQLite file and a real PostgreSQL server (``any_db``): enqueue/dedupe,
atomic claims across processes, leases, cancel/retry transitions, and the schema version check."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest
from sqlmodel import Session, select

from engine.runner.plan import queue_runs
from engine.spec import Outcome, RunSpec, RunStatus, TrainParams
from engine.store import queue, requests
from engine.store.db import StoreError, db_url, open_db
from engine.store.results import RunOutput, record_output
from engine.store.schema import Attempt, Result, Run
from tests.support.env import wait_for
from tests.support.specs import specs


def test_enqueue_twice_adds_only_new_runs(any_db):
    engine = open_db(any_db)
    first = queue_runs(engine, "s", specs(3))
    second = queue_runs(engine, "s", specs(5))
    assert len(first.new) == 3 and len(second.new) == 2 and second.existing == first.new
    with Session(engine) as s:
        runs = s.exec(select(Run)).all()
    assert len(runs) == 5 and len({r.spec_hash for r in runs}) == 5
    assert json.loads(runs[0].spec_json)["train"]["lr"] == 2e-5  # defaults are written into the stored spec


def test_rerun_requeues_only_finished_runs(any_db):
    engine = open_db(any_db)
    report = queue_runs(engine, "s", specs(2))
    claim = queue.claim_next(engine, "w", "cpu")
    queue.finish(engine, claim, "w", Outcome.SUCCEEDED)
    again = queue_runs(engine, "s", specs(2), rerun=True)
    assert again.requeued == [claim.run_id]  # the still-queued one is left alone
    assert again.existing == [r for r in report.new if r != claim.run_id]


def test_claim_order_follows_priority_then_age(any_db):
    engine = open_db(any_db)
    ids = queue_runs(engine, "s", specs(3)).new
    requests.set_priority(engine, [ids[2]], 5)
    assert [queue.claim_next(engine, "w", "cpu").run_id for _ in range(3)] == [ids[2], ids[0], ids[1]]
    assert queue.claim_next(engine, "w", "cpu") is None


CLAIMER = textwrap.dedent("""
    import os, sys, time
    from engine.store.queue import claim_next
    from engine.store.db import open_db
    engine = open_db(sys.argv[1], create=False)
    open(sys.argv[3] + "." + sys.argv[2], "w").close()  # ready
    while not os.path.exists(sys.argv[3]):  # start together, so the claims really race
        time.sleep(0.01)
    while (claim := claim_next(engine, sys.argv[2], "cpu")) is not None:
        print(claim.run_id, flush=True)
""")


@pytest.mark.slow
def test_concurrent_claims_by_processes_take_each_run_exactly_once(any_db, tmp_path):
    engine = open_db(any_db)
    ids = queue_runs(engine, "s", specs(1000)).new
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", CLAIMER, any_db, f"w{i}", str(go)], stdout=subprocess.PIPE,
                              text=True) for i in range(8)]
    wait_for(lambda: all((tmp_path / f"go.w{i}").exists() for i in range(8)), what="claimers ready")
    go.touch()
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    claimed = [int(line) for out in outputs for line in out.split()]
    counts = Counter(claimed)
    assert sorted(counts) == sorted(ids) and set(counts.values()) == {1}
    assert sum(1 for out in outputs if out.strip()) >= 4  # the workers really competed
    with Session(engine) as s:
        runs = s.exec(select(Run)).all()
        assert all(r.status == "running" and r.attempts == 1 for r in runs)
        assert len(s.exec(select(Attempt)).all()) == 1000


def test_expired_lease_requeues_then_gives_up(any_db):
    engine = open_db(any_db)
    (run_id,) = queue_runs(engine, "s", specs(1), max_attempts=2).new
    claim = queue.claim_next(engine, "w1", "cpu", lease_s=0.1)
    assert queue.requeue_expired(engine, now=time.time()) == []  # still within the lease
    assert queue.requeue_expired(engine, now=time.time() + 1) == [run_id]
    with Session(engine) as s:
        run = s.get(Run, run_id)
        assert (run.status, run.attempts, run.worker_id) == ("queued", 1, None)
        assert s.get(Attempt, claim.attempt_id).outcome == "lost"
    assert not queue.renew_lease(engine, run_id, "w1")  # the vanished worker has lost it
    queue.claim_next(engine, "w2", "cpu", lease_s=0.1)
    queue.requeue_expired(engine, now=time.time() + 1)
    with Session(engine) as s:
        run = s.get(Run, run_id)
        assert run.status == "failed" and "gave up after 2 attempts" in run.error


def test_cancel_and_retry_transitions(any_db):
    engine = open_db(any_db)
    a, b, c = queue_runs(engine, "s", specs(3)).new
    claim = queue.claim_next(engine, "w", "cpu")
    assert claim.run_id == a
    done = requests.cancel(engine, [a, b, 999])
    assert done[a].message == "running → cancelled" and done[b].message == "queued → cancelled"
    assert done[a].changed and done[a].was == RunStatus.RUNNING and done[a].target == RunStatus.CANCELLED
    assert done[999].message == "no such run" and not done[999].changed and done[999].was is None
    assert not queue.renew_lease(engine, a, "w")  # the worker learns at its next heartbeat
    assert not queue.finish(engine, claim, "w", Outcome.SUCCEEDED)  # and cannot overwrite the cancel
    refused = requests.retry(engine, [c])[c]
    assert not refused.changed and "only failed or cancelled" in refused.message
    assert requests.retry(engine, [a])[a].message == "cancelled → queued"
    with Session(engine) as s:
        run = s.get(Run, a)
        assert (run.status, run.retry_base, run.attempts, run.error) == ("queued", 1, 1, None)
        assert s.get(Attempt, claim.attempt_id).outcome == "cancelled"


def test_an_attempt_left_behind_stores_nothing_even_under_the_same_worker_id(any_db):
    """A run process that outlived its attempt (its warm launcher died: the slot recorded the attempt
    failed, re-queued the run and claimed it again, under the same worker id, while the orphan still
    ran for a moment) can neither succeed the run, nor overwrite its attempt's outcome, nor leave
    results beside the new attempt's; nor can that attempt's end end the new one. A cancelled run's
    latest attempt still keeps what it computed."""
    engine = open_db(any_db)
    run_id, other = queue_runs(engine, "s", specs(2)).new
    first = queue.claim_next(engine, "w", "cpu")
    assert queue.finish(engine, first, "w", Outcome.FAILED, "run process was killed by SIGKILL", retry=True)
    out = RunOutput()
    out.add_scores("swa", "test", {"f1": 0.5})
    assert not record_output(engine, run_id, first.attempt_id, "w", out)  # the orphan of attempt 1: re-queued
    second = queue.claim_next(engine, "w", "cpu")
    assert (second.run_id, second.attempt) == (run_id, 2)
    assert not record_output(engine, run_id, first.attempt_id, "w", out)  # and claimed again
    assert not queue.finish(engine, first, "w", Outcome.FAILED, "late")
    with Session(engine) as s:
        run = s.get(Run, run_id)
        assert (run.status, run.attempt_id, run.worker_id) == ("running", second.attempt_id, "w")
        assert s.get(Attempt, first.attempt_id).outcome == "failed"
        assert s.exec(select(Result)).all() == []
    assert record_output(engine, run_id, second.attempt_id, "w", out)
    cancelled = queue.claim_next(engine, "w", "cpu")
    requests.cancel(engine, [other])
    assert not record_output(engine, other, cancelled.attempt_id, "w", out)  # too late to succeed, results kept
    with Session(engine) as s:
        assert s.get(Run, run_id).status == "succeeded"
        assert [a.outcome for a in s.exec(select(Attempt).where(Attempt.run_id == run_id))] == ["failed", "succeeded"]
        assert sorted((r.run_id, r.attempt_id) for r in s.exec(select(Result))) == [
            (run_id, second.attempt_id), (other, cancelled.attempt_id)]
        assert s.get(Run, other).status == "cancelled"


def test_shutdown_requeue_does_not_count_as_an_attempt(any_db):
    engine = open_db(any_db)
    (run_id,) = queue_runs(engine, "s", specs(1), max_attempts=2).new
    claim = queue.claim_next(engine, "w", "cpu", lease_s=0.1)
    assert queue.finish(engine, claim, "w", "requeued")
    queue.claim_next(engine, "w", "cpu", lease_s=0.1)
    queue.requeue_expired(engine, now=time.time() + 1)  # one real loss: still within max_attempts=2
    with Session(engine) as s:
        assert s.get(Run, run_id).status == "queued"


def test_database_is_in_wal_mode_with_busy_timeout(db):
    engine = open_db(db)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000


def test_schema_version_mismatch_is_refused(db):
    open_db(db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    with pytest.raises(StoreError, match="schema version 999"):
        open_db(db)


def test_read_only_open_of_a_missing_database_creates_nothing(tmp_path):
    path = tmp_path / "none.db"
    with pytest.raises(StoreError, match="no database"):
        open_db(str(path), create=False)
    assert not path.exists()
    assert db_url(str(path)).startswith("sqlite:///")
    assert db_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("not sqlite at all, just notes\n" * 100)
    with pytest.raises(StoreError, match="not an xltui database|cannot open"):
        open_db(str(path))


def madx_specs(seeds=(1,)) -> list[RunSpec]:
    from engine.spec import MadxParams

    return [RunSpec(task="ner", model_name="madx", model="minilm", method="madx", source=("en",),
                    targets=("swa", "yor"), setting="zero-shot", seed=seed,
                    data={"en": "masakhaner", "swa": "masakhaner", "yor": "masakhaner"},
                    train=TrainParams(lr=1e-4), madx=MadxParams()) for seed in seeds]


def test_madx_runs_wait_for_shared_language_adapters(any_db):
    from engine.store.schema import RunDependency, Study

    engine = open_db(any_db)
    (run_id,) = queue_runs(engine, "a", madx_specs()).new
    queue_runs(engine, "b", madx_specs())  # a second study needing the very same adapters
    with Session(engine) as s:
        shared = s.exec(select(Study).where(Study.name == "_lang-adapters")).one()
        adapters = s.exec(select(Run).where(Run.study_id == shared.id)).all()
        assert sorted(r.source for r in adapters) == ["en", "swa", "yor"]  # trained once for both studies
        assert len(s.exec(select(RunDependency)).all()) == 6
    # a worker for study "a" takes the adapters first; the task run waits until all three succeeded
    claims = [queue.claim_next(engine, "w", "cpu", study_ids=[1]) for _ in range(3)]
    assert sorted(c.run_id for c in claims) == sorted(r.id for r in adapters)
    assert queue.claim_next(engine, "w", "cpu", study_ids=[1]) is None
    for c in claims[:2]:
        queue.finish(engine, c, "w", "succeeded")
    assert queue.claim_next(engine, "w", "cpu") is None
    queue.finish(engine, claims[2], "w", "succeeded")
    assert queue.claim_next(engine, "w", "cpu", study_ids=[1]).run_id == run_id


def test_a_failed_adapter_fails_its_dependents_and_resubmitting_requeues_it(any_db):
    engine = open_db(any_db)
    (run_id,) = queue_runs(engine, "a", madx_specs()).new
    claim = queue.claim_next(engine, "w", "cpu")
    queue.finish(engine, claim, "w", "failed", "boom")
    assert queue.fail_blocked(engine) == [run_id]
    with Session(engine) as s:
        assert "which failed" in s.get(Run, run_id).error
    queue_runs(engine, "a", madx_specs(), rerun=True)
    with Session(engine) as s:
        assert s.get(Run, claim.run_id).status == "queued" and s.get(Run, run_id).status == "queued"


def test_status_lists_the_runs_that_wait_and_on_what(db):
    from engine.store.queries import waiting_runs
    from tests.support.env import xltui

    engine = open_db(db)
    (run_id,) = queue_runs(engine, "a", madx_specs()).new
    plain = queue_runs(engine, "plain", specs(50)).study_id  # queued runs that wait on nothing are not listed
    claim = queue.claim_next(engine, "w", "cpu")  # one language adapter done
    queue.finish(engine, claim, "w", "succeeded")
    (waiting,) = waiting_runs(engine)
    assert waiting.run_id == run_id and len(waiting.needs) == 2  # the two adapters still to train
    assert claim.run_id not in {d for d, _, _ in waiting.needs}
    out = xltui("status", "--db", db, check=True).stdout
    assert "Waiting" in out and f"run {waiting.needs[0][0]}" in out and "queued" in out
    assert waiting_runs(engine, study_id=plain) == [] and waiting_runs(engine, study_id=1) == [waiting]
