"""What the torture harness (tests/support/torture.py, bench/torture.py) records of a phase (its kills, its report), how it finds run processes,
and the invariants it checks at the end.

Split from the bench so the checks read on their own: every run finished exactly once with
its results, nothing left holding a claim, every attempt that was hit ended as its kill says.
"""

from __future__ import annotations

import os
import re
import signal
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Collection

import psutil

from tests.support.workers import attempts, fd_target, log_writers, worker_pid

if TYPE_CHECKING:
    from tests.support.torture import Plan

RUN_LOG = re.compile(r"run-(\d+)-[0-9a-f]+/attempt-(\d+)/run\.log$")
WORKER, RUN, RUN_TERM, LAUNCHER = "worker", "run", "run-term", "launcher"
SIGNAL = {WORKER: signal.SIGKILL, RUN: signal.SIGKILL, RUN_TERM: signal.SIGTERM, LAUNCHER: signal.SIGKILL}
NAMES = {WORKER: "worker SIGKILLed", RUN: "run process SIGKILLed", RUN_TERM: "run process SIGTERMed",
         LAUNCHER: "launcher SIGKILLed"}

@dataclass
class Kill:
    kind: str  # WORKER | RUN | RUN_TERM | LAUNCHER
    pid: int
    at_s: float  # since the phase started
    log: str  # the run.log of the attempt it hit (a worker's or a launcher's: of the run under it)
    run_id: int | None = None  # a run process: its run and attempt number, from that path
    attempt: int | None = None


@dataclass
class Report:
    plan: "Plan"
    wall_s: float = 0.0
    runs: int = 0
    succeeded: int = 0
    attempts: int = 0
    kills: list[Kill] = field(default_factory=list)
    polls: int = 0
    poll_max_s: float = 0.0
    killed_attempts: Counter = field(default_factory=Counter)  # how the attempts we killed ended
    signal_errors: list[str] = field(default_factory=list)  # the first line of a killed run's attempt error
    problems: list[str] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(k.kind == kind for k in self.kills)


# -- processes ------------------------------------------------------------------------------------
def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def run_processes(artifacts: Path) -> list[tuple[psutil.Process, str]]:
    """The run processes of the study whose artifacts are under ``artifacts``, and their logs (the
    attempt's ``run.log`` each writes as its stdout, whoever forked it)."""
    root = os.path.realpath(artifacts) + os.sep
    return log_writers(lambda path: path.startswith(root) and RUN_LOG.search(path) is not None)


def worker_of(db: Path, log: str) -> int | None:
    """The pid of the worker whose attempt writes ``log``, as the attempt's row names it."""
    run_id, number = (int(g) for g in RUN_LOG.search(log).groups())  # type: ignore[union-attr]
    mine = [a for a in attempts(str(db), run_id) if a.number == number]
    return worker_pid(mine[0].worker_id) if mine else None


def _writes_to(pid: int, fd: str) -> bool:
    try:
        flags = next(line for line in Path(f"/proc/{pid}/fdinfo/{fd}").read_text().splitlines()
                     if line.startswith("flags:"))
    except (OSError, StopIteration):
        return False
    return int(flags.split()[1], 8) & os.O_ACCMODE == os.O_WRONLY


def launchers_of(worker: int) -> list[psutil.Process]:
    """A worker's warm launchers, its own children or forked by a warm server: the processes whose stdin
    is a pipe the worker writes to (not its own stdout or stderr, which others may share)."""
    try:
        fds = [fd for fd in os.listdir(f"/proc/{worker}/fd") if fd not in ("0", "1", "2")]
    except OSError:  # it ended
        return []
    pipes = {t for fd in fds if (t := fd_target(worker, fd)) and t.startswith("pipe:") and _writes_to(worker, fd)}
    return [p for p in psutil.process_iter() if p.pid != worker and fd_target(p.pid, 0) in pipes]


def text_of(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def parent_pid(p: psutil.Process) -> int | None:
    try:
        return p.ppid()
    except psutil.Error:
        return None


# -- the checks -----------------------------------------------------------------------------------
def check(db: Path, report: Report, killed_workers: Collection[int] = ()) -> None:
    """Add to ``report`` what the database says: attempts, and every invariant that does not hold
    (``killed_workers``: pids of the workers killed, whose rows cannot say they stopped)."""
    from sqlmodel import Session, select

    from engine.spec import Outcome, RunStatus, WorkerState
    from engine.store.db import open_db
    from engine.store.schema import Attempt, Result, Run, Worker

    engine = open_db(str(db), create=False)
    with Session(engine) as s:
        runs = list(s.exec(select(Run).order_by(Run.id)))
        attempts = list(s.exec(select(Attempt).order_by(Attempt.run_id, Attempt.number)))
        results = list(s.exec(select(Result.attempt_id, Result.language, Result.metric)))
        workers = list(s.exec(select(Worker)))
    engine.dispose()
    problems = report.problems
    for w in workers:
        if w.pid not in killed_workers and w.state != WorkerState.STOPPED:
            problems.append(f"worker {w.id} exited but its row says {w.state} (run {w.current_run_id})")
    report.attempts = len(attempts)
    report.succeeded = sum(r.status == RunStatus.SUCCEEDED for r in runs)
    by_run: dict[int, list] = {r.id: [] for r in runs}
    for a in attempts:
        by_run[a.run_id].append(a)
    scored = Counter((attempt_id, lang) for attempt_id, lang, metric in results if metric == "f1")
    with_results = Counter(attempt_id for attempt_id, _lang, _metric in results)
    for r in runs:
        mine = by_run[r.id]
        if r.status != RunStatus.SUCCEEDED:
            problems.append(f"run {r.id} is {r.status}: {(r.error or '').splitlines()[:1]}")
        if r.status == RunStatus.RUNNING or r.lease_expires_at is not None:
            problems.append(f"run {r.id} still holds a claim ({r.status}, worker {r.worker_id}, lease {r.lease_expires_at})")
        if [a.number for a in mine] != list(range(1, r.attempts + 1)):
            problems.append(f"run {r.id}: attempts numbered {[a.number for a in mine]}, the run counts {r.attempts}")
        won = [a for a in mine if a.outcome == Outcome.SUCCEEDED]
        if len(won) != 1:
            problems.append(f"run {r.id} has {len(won)} succeeded attempts")
        elif r.attempt_id != won[0].id:
            problems.append(f"run {r.id}: its latest attempt {r.attempt_id} is not the succeeded one {won[0].id}")
        for a in won:
            missing = [t for t in r.targets.split(",") if scored[(a.id, t)] == 0]
            if missing:
                problems.append(f"run {r.id} attempt {a.number} succeeded without results for {missing}")
        for a in mine:
            if a.outcome is None:
                problems.append(f"run {r.id} attempt {a.number} never ended (no outcome)")
            elif a.outcome != Outcome.SUCCEEDED and with_results[a.id]:
                problems.append(f"run {r.id} attempt {a.number} ended {a.outcome} but left {with_results[a.id]} "
                                "results rows")
    by_log = {a.log_path: a for a in attempts if a.log_path}
    for k in report.kills:
        a = by_log.get(k.log)
        if a is None:
            problems.append(f"killed {k.kind} process {k.pid}: no attempt has the log of its run {k.log}")
            continue
        later = [b for b in by_run[a.run_id] if b.number > a.number]
        first = (a.error or "").splitlines()[:1]
        if a.outcome == Outcome.SUCCEEDED:  # it stored its result before the kill, or before it noticed its worker's
            report.killed_attempts[f"{NAMES[k.kind]}: after the result was stored"] += 1
        elif k.kind != WORKER and a.outcome == Outcome.FAILED and SIGNAL[k.kind].name in (a.error or "") and later:
            report.killed_attempts[f"{NAMES[k.kind]}: retried, {SIGNAL[k.kind].name} recorded"] += 1
            report.signal_errors.append(first[0])
        elif k.kind == WORKER and a.outcome == Outcome.LOST and "lease expired" in (a.error or "") and later:
            report.killed_attempts[f"{NAMES[k.kind]}: lost by lease expiry, retried"] += 1
        else:
            problems.append(f"run {a.run_id} attempt {a.number} ({k.kind} process {k.pid} killed at {k.at_s:.1f} s) "
                            f"ended {a.outcome} with {first}, {len(later)} later attempt(s)")
    ours = {by_log[k.log].id for k in report.kills if k.log in by_log}
    for a in attempts:
        if a.outcome not in (Outcome.SUCCEEDED, None) and a.id not in ours:
            problems.append(f"run {a.run_id} attempt {a.number} ended {a.outcome} though nothing here killed it: "
                            f"{(a.error or '').splitlines()[:1]}")
