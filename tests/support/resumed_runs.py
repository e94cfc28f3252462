"""A run whose attempts 2 and 3 resumed from saved training states, written as run processes write it.

Each attempt is a real claim of the queue; its metric points go through the real
``MetricWriter`` and its ``resumed_step`` / ``redone_steps`` through the real
``engine.store.resumes.record_resume``, as a run process that loaded a state does. A point's
value says which attempt logged it (``value_of``), so a test can tell a superseded point
from the one that replaced it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from engine.runner.plan import queue_runs
from engine.spec import Outcome
from engine.store import queue
from engine.store.db import open_db
from engine.store.resumes import record_resume
from engine.store.telemetry import MetricWriter
from tests.support.stored_runs import spec

TOTAL_STEPS = 600
DEV_EVERY = 100
# per attempt: (resumed_step, redone_steps, last step it logged); attempt 1 started from step 0
ATTEMPTS = ((None, None, 250), (200, 50, 450), (400, 50, 500))


@dataclass
class ResumedRun:
    engine: Engine
    run_id: int
    attempt_ids: list[int]
    claim: queue.Claim  # the last attempt's, still running


def value_of(attempt: int, step: int) -> float:
    """A point's value: its attempt number before the point, its step after it."""
    return attempt + step / 10_000


def log_steps(writer: MetricWriter, attempt: int, first: int, last: int) -> None:
    """Steps ``first``..``last`` as the loop logs them: loss and lr each step, dev score and epoch per epoch."""
    for step in range(first, last + 1):
        writer.log(step, train_loss=value_of(attempt, step), lr=value_of(attempt, step))
        if step % DEV_EVERY == 0:
            writer.log(step, dev_score=value_of(attempt, step), epoch=step // DEV_EVERY)


def mark_resumed(engine: Engine, claim: queue.Claim, step: int, redone: int) -> None:
    """What a run process records once it has restored a saved state; ``redone``: the steps the
    attempt before had done past it, as the test expects them counted."""
    assert record_resume(engine, claim.run_id, claim.attempt_id, step) == redone


def build_resumed_run(db: str, attempts: tuple = ATTEMPTS) -> ResumedRun:
    """One queued run claimed ``len(attempts)`` times: each attempt but the last interrupted (requeued)
    after logging up to its last step; a resumed one redoes the dev evaluation of the step it resumed at."""
    engine = open_db(db)
    queue_runs(engine, "long-runs", [spec("xlmr", 1)])
    ids: list[int] = []
    claim = None
    for number, (resumed, redone, last) in enumerate(attempts, start=1):
        if claim is not None:
            assert queue.finish(engine, claim, "w", Outcome.REQUEUED)
        claim = queue.claim_next(engine, "w", "cpu")
        assert claim is not None and claim.attempt == number
        ids.append(claim.attempt_id)
        if resumed is not None:
            mark_resumed(engine, claim, resumed, redone)
        writer = MetricWriter(engine, claim.run_id, claim.attempt_id)
        writer.log(0, total_steps=TOTAL_STEPS)
        if resumed is not None and resumed % DEV_EVERY == 0:
            writer.log(resumed, dev_score=value_of(number, resumed), epoch=resumed // DEV_EVERY)
        log_steps(writer, number, (resumed or 0) + 1, last)
        writer.close()
    return ResumedRun(engine, claim.run_id, ids, claim)
