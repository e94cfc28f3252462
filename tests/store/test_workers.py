"""A worker slot's row as the slot writes and reads it (engine.store.workers), on a real SQLite
file and a real PostgreSQL server (``any_db``): the first beat makes the row, later beats keep
it fresh, a stop requested between two beats survives them until the last, and the questions
a slot asks of the queue (anything left for it, how its run stands)."""

from __future__ import annotations

from sqlmodel import Session

from engine.spec import Outcome, RunStatus, WorkerState
from engine.store import queue, requests, workers
from engine.store.clock import db_now
from engine.store.db import open_db
from engine.store.queue import PlannedRun
from tests.support.env import wait_for
from tests.support.specs import specs

WID = "host-a:4242:cuda:1"


def row(engine) -> workers.Worker:
    with Session(engine) as s:
        found = s.get(workers.Worker, WID)
        assert found is not None
        return found


def test_beats_make_the_row_keep_it_fresh_and_never_overwrite_a_stop_request_but_the_last(any_db):
    engine = open_db(any_db)
    (run_id,) = queue.enqueue(engine, "s", [PlannedRun(s) for s in specs(1)]).new
    workers.heartbeat(engine, WID, WorkerState.IDLE, None, device="cuda:1", job_id="77_3", job_index=3)
    first = row(engine)
    assert (first.host, first.pid, first.device, first.state, first.current_run_id) == (
        "host-a", 4242, "cuda:1", WorkerState.IDLE, None)
    assert (first.job_id, first.job_index) == ("77_3", 3) and first.started_at == first.heartbeat_at
    assert not workers.stop_requested(engine, WID)

    wait_for(lambda: db_now(engine) > first.heartbeat_at, timeout=10, what="the server's clock to move on")
    workers.heartbeat(engine, WID, WorkerState.BUSY, run_id, device="cuda:1")
    busy = row(engine)
    assert (busy.state, busy.current_run_id) == (WorkerState.BUSY, run_id)
    assert busy.heartbeat_at > first.heartbeat_at and busy.started_at == first.started_at  # the same row, fresher

    assert requests.request_worker_stop(engine, WID)  # the app, between two beats
    assert workers.stop_requested(engine, WID)
    workers.heartbeat(engine, WID, WorkerState.BUSY, run_id, device="cuda:1")
    workers.heartbeat(engine, WID, WorkerState.IDLE, None, device="cuda:1")
    assert row(engine).state == WorkerState.STOPPING and row(engine).current_run_id is None  # kept, the rest beaten
    assert workers.stop_requested(engine, WID)

    workers.heartbeat(engine, WID, WorkerState.STOPPED, None, device="cuda:1")  # the slot's last beat
    assert row(engine).state == WorkerState.STOPPED and not workers.stop_requested(engine, WID)
    assert not workers.stop_requested(engine, "host-a:1:cpu")  # no such slot


def test_nothing_left_is_no_queued_run_and_for_a_study_none_of_its_runs_running(any_db):
    engine = open_db(any_db)
    assert workers.nothing_left(engine) and workers.nothing_left(engine, [1])
    report = queue.enqueue(engine, "a", [PlannedRun(s) for s in specs(2)])
    other = queue.enqueue(engine, "b", [PlannedRun(s) for s in specs(3)[2:]])
    assert not workers.nothing_left(engine) and not workers.nothing_left(engine, [report.study_id])
    claims = [queue.claim_next(engine, "w", "cpu", study_ids=[report.study_id]) for _ in range(2)]
    assert not workers.nothing_left(engine)  # b's run is still queued
    assert not workers.nothing_left(engine, [report.study_id])  # a's run: running, it may fail and come back
    queue.claim_next(engine, "w", "cpu", study_ids=[other.study_id])
    assert workers.nothing_left(engine)  # nothing queued: the running ones are their workers'
    assert not workers.nothing_left(engine, [report.study_id])
    for claim in claims:
        queue.finish(engine, claim, "w", Outcome.SUCCEEDED)
    assert workers.nothing_left(engine, [report.study_id]) and not workers.nothing_left(engine, [other.study_id])


def test_run_status_reads_the_run_now(db):
    engine = open_db(db)
    assert workers.run_status(engine, 1) is None
    (run_id,) = queue.enqueue(engine, "s", [PlannedRun(s) for s in specs(1)]).new
    assert workers.run_status(engine, run_id) is RunStatus.QUEUED
    claim = queue.claim_next(engine, "w", "cpu")
    assert workers.run_status(engine, run_id) is RunStatus.RUNNING
    queue.finish(engine, claim, "w", Outcome.FAILED, "boom")
    assert workers.run_status(engine, run_id) is RunStatus.FAILED
