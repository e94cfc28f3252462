"""What an attempt records about the training states it resumed from and saved.

The run process calls ``record_resume`` once its loop has restored a state: the step it
resumed at, and how many steps the attempt before it had done past that state (steps
computed twice; a report of what preemptions cost adds them up); ``record_save`` after each
save. In the database, not read off the state folder: an artifacts folder shared by two
databases holds states that are not this run's.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select, update

from engine.store.schema import Attempt, MetricPoint

LOSS_METRICS = ("train_loss", "mlm_loss")  # logged at every step: the furthest step an attempt reached


def record_resume(engine: Engine, run_id: int, attempt_id: int, step: int) -> int:
    """Mark ``attempt_id`` as resumed at ``step`` (0: started afresh); returns the steps it redoes (its
    predecessor's past ``step``)."""
    with Session(engine) as session:
        earlier = session.exec(select(Attempt.id).where(Attempt.run_id == run_id, Attempt.id < attempt_id)
                               .order_by(Attempt.id.desc())).all()  # type: ignore[union-attr]
        # the latest attempt that stepped at all (one that died loading did not)
        reached = next((r for previous in earlier if (r := _reached(session, previous)) is not None), 0)
        redone = max(0, reached - step)
        session.exec(update(Attempt).where(Attempt.id == attempt_id)  # type: ignore[call-overload]
                     .values(resumed_step=step, redone_steps=redone))
        session.commit()
    return redone


def _reached(session: Session, attempt_id: int) -> int | None:
    """The furthest step ``attempt_id`` logged a loss at (a probe of the (attempt, name, step) index per loss)."""
    steps = [session.exec(select(func.max(MetricPoint.step)).where(MetricPoint.attempt_id == attempt_id,
                                                                   MetricPoint.name == name)).one()
             for name in LOSS_METRICS]
    return max((s for s in steps if s is not None), default=None)


def record_save(engine: Engine, attempt_id: int, step: int) -> None:
    """``attempt_id`` saved its training state at ``step`` (the worker learns from it that a killed
    attempt made progress)."""
    with Session(engine) as session:
        session.exec(update(Attempt).where(Attempt.id == attempt_id).values(saved_step=step))  # type: ignore[call-overload]
        session.commit()


def progressed(engine: Engine, attempt_id: int) -> bool:
    """Whether ``attempt_id`` saved a state beyond the one it resumed from: its next attempt goes on from
    there, so its end does not use up one of the run's attempts."""
    with Session(engine) as session:
        attempt = session.get(Attempt, attempt_id)
        return attempt is not None and attempt.saved_step is not None and attempt.saved_step > (attempt.resumed_step or 0)
