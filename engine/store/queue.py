"""The run state machine as workers drive it: enqueue, claim, lease, finish.

queued → running → succeeded | failed (| cancelled, by a user: engine.store.requests).
Every transition is a compare-and-set UPDATE (``WHERE status = <expected>``) in
its own short transaction, so it is atomic on SQLite and on server databases
alike: two workers can never both win a claim, and a worker that lost its run
(cancelled, lease expired) finds out from a zero row count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from sqlalchemy import case, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from engine.settings import DEFAULT_LEASE_S, DEFAULT_MAX_ATTEMPTS
from engine.spec import ADAPTER_STUDY, LangAdapterSpec, Outcome, RunSpec, RunStatus
from engine.store.clock import db_now, server_time
from engine.store.queries import Needed
from engine.store.schema import Attempt, Run, RunDependency, Study

AnySpec = RunSpec | LangAdapterSpec
Dependent = aliased(Run)  # the run that waits on a dependency
CLAIM_TRIES = 64  # races lost in a row before a claimer gives up for this poll (each loss is another's win)



@dataclass(frozen=True)
class PlannedRun:
    """A run to queue and what it waits for (planned by engine.runner.plan).

    ``after``: spec hashes of runs in the same study that must succeed first (a few-shot
    run's zero-shot parent); ``shared``: runs kept in the shared study ``ADAPTER_STUDY``,
    created once for every study that needs them (language adapters).
    """

    spec: RunSpec
    after: tuple[str, ...] = ()
    shared: tuple[LangAdapterSpec, ...] = ()


@dataclass
class EnqueueReport:
    study_id: int
    new: list[int] = field(default_factory=list)
    existing: list[int] = field(default_factory=list)
    requeued: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Claim:
    run_id: int
    attempt_id: int
    attempt: int
    spec_json: str
    spec_hash: str
    grad_accumulation: int = 1  # micro-batches per step (more after a CUDA out-of-memory)


def _study(session: Session, name: str, now: float, grid_path: str | None = None,
           grid_text: str | None = None) -> Study:
    row = session.exec(select(Study).where(Study.name == name)).first()
    if row is None:
        row = Study(name=name, grid_path=grid_path, grid_text=grid_text, created_at=now)
        session.add(row)
        session.flush()
    elif grid_text is not None:
        row.grid_path, row.grid_text = grid_path, grid_text
    return row


def _new_run(session: Session, study_id: int, spec: AnySpec, priority: int, max_attempts: int, now: float) -> Run:
    run = Run(study_id=study_id, spec_hash=spec.spec_hash(), spec_json=spec.canonical_json(),
              model_name=spec.model_name, method=spec.method, task=spec.task, setting=spec.setting,
              seed=spec.seed, source=",".join(spec.source), targets=",".join(spec.targets),
              priority=priority, max_attempts=max_attempts, created_at=now)
    session.add(run)
    session.flush()
    return run


def enqueue(
    engine: Engine,
    study: str,
    planned: Sequence[PlannedRun],
    *,
    grid_path: str | None = None,
    grid_text: str | None = None,
    rerun: bool = False,
    priority: int = 0,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> EnqueueReport:
    """Queue the runs of a study that are not in it yet, in one transaction.

    A run already in the study (same spec hash) is left alone, whatever its state,
    unless ``rerun``: then a finished one is queued again (its earlier attempts and
    their results stay in the database). Each run gets a dependency on the runs it
    waits for: ``after`` in this study, ``shared`` in one shared study, so e.g. a
    language adapter is trained once for every run and study that needs it (a failed
    one is re-queued).
    """
    with Session(engine) as session:
        now = db_now(session)
        row = _study(session, study, now, grid_path, grid_text)
        report = EnqueueReport(study_id=row.id)
        existing = {r.spec_hash: r for r in session.exec(select(Run).where(Run.study_id == row.id))}
        adapters: dict[str, Run] | None = None
        for item in planned:
            spec = item.spec
            h = spec.spec_hash()
            run = existing.get(h)
            if run is None:
                run = existing[h] = _new_run(session, row.id, spec, priority, max_attempts, now)
                report.new.append(run.id)
            elif rerun and RunStatus(run.status).is_terminal:
                _reset_to_queued(run)
                run.priority = priority
                report.requeued.append(run.id)
            else:
                report.existing.append(run.id)
            for parent_hash in item.after:  # e.g. few-shot: continues from its zero-shot run, queued alongside
                parent = existing.get(parent_hash)
                if parent is None:
                    raise ValueError(f"run {h} waits for run {parent_hash}, which is not in study {study}")
                if session.get(RunDependency, (run.id, parent.id)) is None:
                    session.add(RunDependency(run_id=run.id, needs_run_id=parent.id))
            if item.shared and adapters is None:
                shared = _study(session, ADAPTER_STUDY, now)
                adapters = {r.spec_hash: r for r in session.exec(select(Run).where(Run.study_id == shared.id))}
            for need in item.shared:
                dep = adapters.get(need.spec_hash()) if adapters is not None else None
                if dep is None:
                    dep = adapters[need.spec_hash()] = _new_run(session, shared.id, need, priority, max_attempts, now)
                elif dep.status in (RunStatus.FAILED, RunStatus.CANCELLED):
                    _reset_to_queued(dep)
                if session.get(RunDependency, (run.id, dep.id)) is None:
                    session.add(RunDependency(run_id=run.id, needs_run_id=dep.id))
        session.commit()
    return report


def _reset_to_queued(run: Run) -> None:
    run.status, run.error, run.worker_id, run.lease_expires_at = RunStatus.QUEUED, None, None, None
    run.finished_at = None
    run.retry_base = run.attempts


def _claimable(query, study_ids: Iterable[int] | None):
    """``query`` narrowed to the run a claim takes next: queued, every dependency succeeded,
    highest priority first (with ``study_ids``: those studies' runs and what they need)."""
    unmet = (select(RunDependency.run_id).join(Needed, Needed.id == RunDependency.needs_run_id)
             .where(Needed.status != RunStatus.SUCCEEDED))
    query = query.where(Run.status == RunStatus.QUEUED, Run.id.not_in(unmet))
    if study_ids is not None:
        ids = list(study_ids)
        needed = (select(RunDependency.needs_run_id).join(Dependent, Dependent.id == RunDependency.run_id)
                  .where(Dependent.study_id.in_(ids)))
        query = query.where(or_(Run.study_id.in_(ids), Run.id.in_(needed)))
    return query.order_by(Run.priority.desc(), Run.id).limit(1)


def next_spec(engine: Engine, study_ids: Iterable[int] | None = None) -> str | None:
    """The spec JSON of the run ``claim_next`` would take now, without taking it (GPU admission
    looks before it claims: engine.runner.admission)."""
    with Session(engine) as session:
        return session.exec(_claimable(select(Run.spec_json), study_ids)).first()


def claim_next(
    engine: Engine,
    worker_id: str,
    device: str,
    *,
    lease_s: float = DEFAULT_LEASE_S,
    study_ids: Iterable[int] | None = None,
) -> Claim | None:
    """Atomically take the highest-priority queued run whose dependencies have all
    succeeded, or None. With ``study_ids``: runs of those studies and what they need.

    The candidate is selected ``FOR UPDATE SKIP LOCKED`` (PostgreSQL: claimers running at
    once each lock a different row instead of queueing behind one; SQLite has no row
    locks and compiles it away) and taken by a compare-and-set UPDATE in the same
    transaction, so a claim is won whole or not at all on either backend. A claimer
    that loses a race (SQLite only) tries the next run.
    """
    query = _claimable(select(Run.id), study_ids).with_for_update(skip_locked=True, of=Run)
    for _ in range(CLAIM_TRIES):
        with Session(engine) as session:
            run_id = session.exec(query).first()
            if run_id is None:
                return None
            now = db_now(session)
            won = session.exec(  # type: ignore[call-overload]
                update(Run)
                .where(Run.id == run_id, Run.status == RunStatus.QUEUED)
                .values(status=RunStatus.RUNNING, worker_id=worker_id, device=device, started_at=now,
                        finished_at=None, lease_expires_at=now + lease_s, attempts=Run.attempts + 1)
            ).rowcount
            if won != 1:  # another claimer took it between our select and update
                session.rollback()
                continue
            run = session.get(Run, run_id)
            attempt = Attempt(run_id=run_id, number=run.attempts, worker_id=worker_id, device=device, started_at=now)
            session.add(attempt)
            session.flush()
            run.attempt_id = attempt.id
            claim = Claim(run_id, attempt.id, attempt.number, run.spec_json, run.spec_hash, run.grad_accumulation or 1)
            session.commit()
            return claim
    return None


def renew_lease(engine: Engine, run_id: int, worker_id: str, lease_s: float = DEFAULT_LEASE_S) -> bool:
    """Heartbeat: extend the lease; False means the run is no longer ours."""
    with Session(engine) as session:
        n = session.exec(  # type: ignore[call-overload]
            update(Run)
            .where(Run.id == run_id, Run.worker_id == worker_id, Run.status == RunStatus.RUNNING)
            .values(lease_expires_at=server_time() + lease_s)
        ).rowcount
        session.commit()
    return n == 1


def fail_blocked(engine: Engine) -> list[int]:
    """Fail queued runs that need a run which failed or was cancelled: they could never start."""
    with Session(engine) as session:
        rows = session.exec(
            select(RunDependency.run_id, Needed.id, Needed.model_name, Needed.status)
            .join(Needed, Needed.id == RunDependency.needs_run_id)
            .join(Run, Run.id == RunDependency.run_id)
            .where(Run.status == RunStatus.QUEUED, Needed.status.in_((RunStatus.FAILED, RunStatus.CANCELLED)))
        ).all()
    failed = []
    for run_id, dep_id, dep_name, dep_status in rows:
        with Session(engine) as session:
            n = session.exec(  # type: ignore[call-overload]
                update(Run).where(Run.id == run_id, Run.status == RunStatus.QUEUED).values(
                    status=RunStatus.FAILED, finished_at=server_time(),
                    error=f"needs run {dep_id} ({dep_name}), which {dep_status}; retry it, then this run")
            ).rowcount
            session.commit()
        if n == 1:
            failed.append(run_id)
    return failed


def requeue_expired(engine: Engine, now: float | None = None) -> list[int]:
    """Give back runs whose worker stopped renewing its lease (killed, machine lost).

    A run that has used up its attempts is failed instead, so a run that kills its
    worker every time cannot loop forever. "Expired" is by the database server's clock
    (``now`` only for tests that move time on).
    """
    with Session(engine) as session:
        now = db_now(session) if now is None else now
        expired = list(session.exec(
            select(Run).where(Run.status == RunStatus.RUNNING, Run.lease_expires_at < now)
        ))
    requeued = []
    for run in expired:
        gave_up = run.attempts - run.retry_base >= run.max_attempts
        values = dict(worker_id=None, lease_expires_at=None)
        if gave_up:
            values.update(status=RunStatus.FAILED, finished_at=now,
                          error=f"worker {run.worker_id} stopped renewing its lease; gave up after {run.attempts - run.retry_base} attempts")
        else:
            values.update(status=RunStatus.QUEUED)
        with Session(engine) as session:
            n = session.exec(  # type: ignore[call-overload]
                update(Run).where(Run.id == run.id, Run.status == RunStatus.RUNNING, Run.lease_expires_at < now).values(**values)
            ).rowcount
            if n == 1:
                _close_attempt(session, run.attempt_id, Outcome.LOST, f"lease expired (worker {run.worker_id} vanished)", now)
                requeued.append(run.id)
            session.commit()
    return requeued


def _close_attempt(session: Session, attempt_id: int | None, outcome: Outcome, error: str | None, now: float) -> None:
    if attempt_id is None:
        return
    attempt = session.get(Attempt, attempt_id)
    if attempt is not None and attempt.outcome is None:
        attempt.outcome, attempt.error, attempt.finished_at = outcome, error, now


def _outcome_of(run: Run | None) -> Outcome:
    """How an attempt ended that lost its run to someone else: as the run ended, else lost."""
    if run is not None and run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED):
        return Outcome(run.status)
    return Outcome.LOST


def finish(engine: Engine, claim: Claim, worker_id: str, outcome: Outcome, error: str | None = None, *,
           retry: bool = False, accumulate: bool = False, counted: bool = True) -> bool:
    """Record how an attempt ended, if the run is still ours: this attempt's, by this worker.

    ``outcome`` is ``SUCCEEDED``, ``FAILED`` or ``REQUEUED`` (the worker is shutting down or
    its job was preempted; the attempt does not count against the run's max_attempts).
    A ``FAILED`` attempt with ``retry`` (its process was killed from outside, e.g. by the
    OOM killer) queues the run again while it has attempts left, and fails it after; with
    ``accumulate`` (a CUDA out-of-memory) its next attempt splits each batch in twice as many
    micro-batches. An attempt that is not ``counted`` (it saved progress its next attempt
    continues from) is retried however many attempts the run has had.
    """
    values: dict = dict(worker_id=None, lease_expires_at=None)
    if outcome == Outcome.REQUEUED:
        values.update(status=RunStatus.QUEUED, retry_base=Run.retry_base + 1)
    elif outcome == Outcome.FAILED and retry and not counted:
        values.update(status=RunStatus.QUEUED, retry_base=Run.retry_base + 1)
    elif outcome == Outcome.FAILED and retry:
        left = Run.attempts - Run.retry_base < Run.max_attempts
        values.update(status=case((left, RunStatus.QUEUED), else_=RunStatus.FAILED),
                      finished_at=case((left, None), else_=server_time()), error=case((left, None), else_=error))
    elif outcome in (Outcome.SUCCEEDED, Outcome.FAILED):
        values.update(status=RunStatus(outcome), finished_at=server_time(), error=error)
    else:
        raise ValueError(f"unknown outcome {outcome!r}")
    if accumulate:
        values["grad_accumulation"] = 2 * claim.grad_accumulation
    with Session(engine) as session:
        n = session.exec(  # type: ignore[call-overload]
            update(Run).where(Run.id == claim.run_id, Run.attempt_id == claim.attempt_id, Run.worker_id == worker_id,
                              Run.status == RunStatus.RUNNING).values(**values)
        ).rowcount
        lost = n != 1
        run = session.get(Run, claim.run_id)
        closing = outcome if not lost else _outcome_of(run)
        _close_attempt(session, claim.attempt_id, closing, error, db_now(session))
        session.commit()
    return not lost


def set_log_path(engine: Engine, attempt_id: int, path: str) -> None:
    with Session(engine) as session:
        attempt = session.get(Attempt, attempt_id)
        if attempt is not None:
            attempt.log_path = path
            session.add(attempt)
            session.commit()
