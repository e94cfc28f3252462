"""Torture: real workers on one SQLite queue, killed while they work — is anything lost, stuck or done twice?

A study of many short real runs (the ``tiny`` model, a few hundred English MasakhaNER
sentences, zero-shot to Swahili) is queued in a fresh SQLite database and worked through
by several real ``xltui worker --cpu`` processes (one CPU slot each; warm launchers as by
default, their own or forked by the warm server ``$XLTUI_WARM_SERVER`` names; a short
``--lease`` so a dead worker's run is taken back soon; ``--study … --exit-when-idle`` so
they exit once no run of the study is queued or running). Three
phases, each on its own database, one after another:

* baseline: no kills — the time and attempts the faults are measured against;
* kill workers: a random busy worker gets SIGKILL and a replacement is started (its run comes
  back by lease expiry; its launcher and run process exit by themselves);
* kill runs: a random run process (the per-run process a slot starts,
  forked by its warm launcher; found by its stdout, an attempt's ``run.log``, and given to
  its worker by that attempt's row) gets SIGKILL, as the OOM killer sends, or SIGTERM, as
  ``kill PID`` or earlyoom's first try sends; and a few times the warm launcher under a run in its last
  epoch gets SIGKILL (the worst moment: the orphaned run may finish after its slot has
  already re-queued the run and claimed it again, under the same worker id).

Kills are planned against the study's progress, not the clock, so a fast or a loaded machine
makes them all: kill i of k is due once i·(runs − workers)/k runs have succeeded, and is made
as soon as a victim is there (a busy worker, a run process, a run in its last epoch for a
launcher) and the reader below has polled once more than the kills made so far (so a poll
comes before each kill, however fast the runs), so at least as many runs as workers are still
to come when the last one is due.

All the while a reader runs ``xltui status --db …`` (every other time ``--runs``) once a
second as a subprocess and records every failure (exit status, a traceback). At the end of
a phase it checks the database and the process table (``check``):

* every run succeeded, with exactly one succeeded attempt, which is its latest, and that
  attempt's results (f1 on every target); no other attempt left results;
* no run is left running or holding a lease; every attempt has an outcome; attempts are
  numbered 1..n without gaps; no attempt failed or was lost that nothing here killed;
* every attempt whose run process (or launcher) was killed ended ``failed`` with the
  signal's name in its error and the run was retried as a new attempt (or the kill came
  after its result was stored: then it is the succeeded attempt); every killed worker's
  attempt ended ``lost`` by lease expiry and was retried (or had stored its result);
* workers not killed exited with status 0; no process of the phase (worker, launcher, run)
  is alive 15 s after the end; the reader never failed.

Prints one table (kills of each kind, runs, attempts, minutes, status polls, problems; the
time and attempts next to the baseline's), how the attempts hit ended, and every problem.
No timing is asserted. ``tests/runner/test_torture.py`` runs a small mixed plan through ``torture()``
and asserts there is no problem.

``python bench/torture.py [--runs 24 --workers 3 --worker-kills 6 --run-kills 8 --term-kills 2
--launcher-kills 2 --lease 3]``
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import psutil

from tests.support.torture_checks import (
    LAUNCHER,
    RUN_LOG,
    SIGNAL,
    WORKER,
    Kill,
    Report,
    check,
    descendants,
    launchers_of,
    parent_pid,
    run_processes,
    text_of,
    worker_of,
)

REPO = Path(__file__).resolve().parents[2]

STUDY = "torture"
GRID = """\
study: {study}
task: ner
source: en
targets: [{targets}]
data:
  ner: masakhaner
models:
  - {{name: tiny, model: tiny, method: full, lr: 1.0e-3}}
settings: [zero-shot]
seeds: [{seeds}]
train: {{batch_size: 8, max_length: 48, epochs: {epochs}, patience: {epochs}, max_train_sentences: {train}, max_eval_sentences: {eval}}}
"""


@dataclass
class Plan:
    """One phase: the study's size, the workers, and the kills to make, in order."""

    runs: int = 8
    workers: int = 2
    kills: tuple[str, ...] = ()  # WORKER | RUN | RUN_TERM | LAUNCHER, in the order they are made
    lease_s: float = 3.0
    max_attempts: int = 20
    train: int = 300  # source training sentences per run
    epochs: int = 3
    eval: int = 64  # sentences evaluated per language
    targets: tuple[str, ...] = ("swa",)
    status_every_s: float = 1.0
    timeout_s: float = 900.0
    seed: int = 7


# -- the study ------------------------------------------------------------------------------------
def write_grid(folder: Path, plan: Plan) -> Path:
    grid = folder / "torture.yaml"
    grid.write_text(GRID.format(study=STUDY, targets=", ".join(plan.targets), epochs=plan.epochs,
                                train=plan.train, eval=plan.eval,
                                seeds=", ".join(str(s) for s in range(1, plan.runs + 1))))
    return grid


def queue_study(db: Path, grid: Path, max_attempts: int) -> list[int]:
    from engine.grid.expand import expand
    from engine.grid.schema import load_grid
    from engine.runner.plan import queue_runs
    from engine.store.db import open_db

    spec = load_grid(grid)
    engine = open_db(str(db))
    try:
        return queue_runs(engine, spec.study, expand(spec), max_attempts=max_attempts).new
    finally:
        engine.dispose()


# -- processes ------------------------------------------------------------------------------------
class StatusReader(threading.Thread):
    """``xltui status`` once a second, as a person watching the queue would; every failure kept."""

    def __init__(self, db: Path, env: dict[str, str], every_s: float):
        super().__init__(daemon=True, name="status-reader")
        self.db, self.env, self.every_s = db, env, every_s
        self.stop = threading.Event()
        self.polls, self.max_s, self.failures = 0, 0.0, []

    def run(self) -> None:
        while not self.stop.is_set():
            extra = ["--runs"] if self.polls % 2 else []
            started = time.perf_counter()
            try:
                out = subprocess.run([sys.executable, "-m", "xltui.cli", "status", "--db", str(self.db), *extra],
                                     cwd=REPO, env=self.env, capture_output=True, text=True, timeout=120)
                bad = out.returncode != 0 or "Traceback" in out.stdout + out.stderr
                text = f"exit {out.returncode}: {(out.stderr or out.stdout)[-1500:]}"
            except subprocess.TimeoutExpired:
                bad, text = True, "timed out after 120 s"
            self.max_s = max(self.max_s, time.perf_counter() - started)
            self.polls += 1
            if bad:
                self.failures.append(f"`xltui status {' '.join(extra)}` failed (poll {self.polls}): {text}")
            self.stop.wait(self.every_s)


class Phase:
    """The workers of one phase, the kills made, and every process seen (for the orphan check)."""

    def __init__(self, db: Path, plan: Plan, env: dict[str, str], logs: Path):
        self.db, self.plan, self.env, self.logs = db, plan, env, logs
        self.artifacts = Path(env["XLTUI_ARTIFACTS"])
        self.workers: list[subprocess.Popen] = []
        self.killed: set[int] = set()
        self.seen: dict[int, float] = {}  # pid -> create time: a pid reused later is not ours
        self.rng = random.Random(plan.seed)

    def start_worker(self) -> subprocess.Popen:
        log = open(self.logs / f"worker-{len(self.workers) + 1}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "xltui.cli", "worker", "--db", str(self.db), "--cpu",
                                 "--cpu-slots", "1", "--study", STUDY, "--exit-when-idle", "--poll", "0.1",
                                 "--lease", str(self.plan.lease_s)], cwd=REPO, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        self.workers.append(proc)
        return proc

    def alive(self) -> list[subprocess.Popen]:
        return [w for w in self.workers if w.poll() is None]

    def note_processes(self) -> None:
        """Record the phase's processes: the workers' children, their launchers (their own or a warm
        server's) and the run processes (the workers themselves are waited for)."""
        procs = [p for w in self.alive() for p in (*descendants(w.pid), *launchers_of(w.pid))]
        for p in [*procs, *(run for run, _log in run_processes(self.artifacts))]:
            try:
                self.seen.setdefault(p.pid, p.create_time())
            except psutil.Error:
                pass

    def busy(self) -> list[tuple[subprocess.Popen, list[tuple[psutil.Process, str]]]]:
        """Each live worker with a run process now, and those processes with their logs."""
        alive = {w.pid: w for w in self.alive()}
        mine: dict[int, list[tuple[psutil.Process, str]]] = {}
        for p, log in run_processes(self.artifacts):
            pid = worker_of(self.db, log)
            if pid in alive:
                mine.setdefault(pid, []).append((p, log))
        return [(alive[pid], procs) for pid, procs in mine.items()]

    def kill(self, kind: str, at_s: float) -> Kill | None:
        """SIGKILL one random busy worker (and start another), or send one random run process its
        signal, or SIGKILL the warm launcher of a run in its last epoch (the worst moment: the orphaned
        run may finish while its slot has already claimed the run again); None if there is none now."""
        busy = self.busy()
        if kind == LAUNCHER:  # a forked run's parent is its launcher (the worker's own child or a server's)
            last = f"epoch {self.plan.epochs}:"
            busy = [(w, [(p, log) for p, log in procs if parent_pid(p) not in (None, w.pid) and last in text_of(log)])
                    for w, procs in busy]
        busy = [(w, procs) for w, procs in busy if procs]
        if not busy:
            return None
        worker, procs = self.rng.choice(busy)
        if kind == WORKER:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            self.killed.add(worker.pid)
            self.start_worker()
            return Kill(WORKER, worker.pid, at_s, procs[0][1])  # one slot per worker: one run
        proc, log = self.rng.choice(procs)
        try:
            victim = psutil.Process(proc.ppid()) if kind == LAUNCHER else proc
            victim.send_signal(SIGNAL[kind])
        except psutil.Error:  # it ended meanwhile
            return None
        run_id, attempt = (int(g) for g in RUN_LOG.search(log).groups())  # type: ignore[union-attr]
        return Kill(kind, victim.pid, at_s, log, run_id, attempt)

    def leftovers(self, grace_s: float = 15.0) -> list[str]:
        """Processes of this phase still alive after ``grace_s`` (killed then, and named)."""
        deadline = time.monotonic() + grace_s
        while True:
            left = []
            for pid, created in self.seen.items():
                try:
                    p = psutil.Process(pid)
                    if p.create_time() == created and p.status() != psutil.STATUS_ZOMBIE:
                        left.append(p)
                except psutil.Error:
                    pass
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        out = []
        for p in left:
            try:
                out.append(f"process {p.pid} still alive after the phase: {' '.join(p.cmdline())[:160]}")
                p.kill()
            except psutil.Error:
                pass
        return out

    def close(self) -> None:
        for w in self.alive():
            w.kill()
        for w in self.workers:
            w.wait()


def kill_schedule(plan: Plan) -> list[int]:
    """How many runs must have succeeded before each kill is made: spread over the study, the last
    due while at least ``plan.workers`` runs are still to come, so every kill finds a victim."""
    k = len(plan.kills)
    return [i * max(0, plan.runs - plan.workers) // k for i in range(k)]


def succeeded(db: Path) -> int:
    """Runs of the study that succeeded so far (read-only; the workers keep writing)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute("SELECT count(*) FROM run WHERE status = 'succeeded'").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def torture(folder: Path, plan: Plan, notify: Callable[[str], None] = lambda _m: None,
            env: dict[str, str] | None = None) -> Report:
    """Queue the study in a new database under ``folder``, work it through with ``plan``'s kills, check it."""
    folder.mkdir(parents=True, exist_ok=True)
    db, logs = folder / "experiments.db", folder / "logs"
    logs.mkdir(exist_ok=True)
    env = dict(os.environ if env is None else env)
    env["XLTUI_ARTIFACTS"] = str(folder / "artifacts")
    threads = str(max(1, (os.cpu_count() or 1) // plan.workers))  # the cores split between the workers
    env.setdefault("OMP_NUM_THREADS", threads)
    env.setdefault("MKL_NUM_THREADS", threads)
    ids = queue_study(db, write_grid(folder, plan), plan.max_attempts)
    report = Report(plan, runs=len(ids))
    reader = StatusReader(db, env, plan.status_every_s)
    phase = Phase(db, plan, env, logs)
    pending = list(plan.kills)
    due = kill_schedule(plan)
    started = noted = time.monotonic()
    reader.start()
    try:
        for _ in range(plan.workers):
            phase.start_worker()
        phase.note_processes()
        while phase.alive():
            now = time.monotonic()
            if now - started > plan.timeout_s:
                report.problems.append(f"the study did not finish within {plan.timeout_s:.0f} s")
                break
            if now - noted > 0.5:  # a scan of every process: each run lives for seconds
                phase.note_processes()
                noted = now
            if pending and succeeded(db) >= due[len(report.kills)] and reader.polls > len(report.kills):
                kill = phase.kill(pending[0], now - started)
                if kill is not None:
                    pending.pop(0)
                    report.kills.append(kill)
                    notify(f"{kill.at_s:6.1f} s  {SIGNAL[kill.kind].name} {kill.kind.split('-')[0]} {kill.pid}"
                           + (f" (run {kill.run_id} attempt {kill.attempt})" if kill.run_id else ""))
            time.sleep(0.1)
        report.wall_s = time.monotonic() - started
    finally:
        phase.close()
        reader.stop.set()
        reader.join()
    if pending:
        report.problems.append(f"{len(pending)} planned kill(s) not made: the study finished first ({pending})")
    for w in phase.workers:
        if w.pid not in phase.killed and w.returncode != 0:
            report.problems.append(f"worker {w.pid} exited with status {w.returncode} (see {logs})")
    report.problems += phase.leftovers()
    report.polls, report.poll_max_s = reader.polls, reader.max_s
    report.problems += reader.failures
    check(db, report, phase.killed)
    return report
