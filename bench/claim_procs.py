"""The processes bench/claims.py races: claimer and worker scripts, and a keeper that
kills and reaps every child whatever happens (Ctrl-C, an error, a child that died).

Each script runs in a fresh interpreter (``python -c``), as real workers are separate
processes; each signals ready with a file and waits for a common start file, so
interpreter start-up and imports stay outside the timings.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rich.console import Console

from engine.spec import RunSpec, TrainParams
from tests import pg

REPO = Path(__file__).resolve().parents[1]
READY_TIMEOUT_S = 180.0  # 64 interpreters importing sqlalchemy on 2 cores take a while

# Part 1's claimer: ready file, wait for the start file, claim + finish until None, report.
CLAIMER = textwrap.dedent("""
    import json, os, sys, time
    from sqlalchemy import func
    from sqlmodel import Session, select
    from engine.spec import Outcome, RunStatus
    from engine.store import queue
    from engine.store.db import open_db
    from engine.store.schema import Run

    url, wid, go, out = sys.argv[1:5]
    parent = os.getppid()
    engine = open_db(url, create=False, name=wid)
    open(f"{out}.ready", "w").close()
    while not os.path.exists(go):
        if os.getppid() != parent:  # the benchmark is gone: do not wait forever
            sys.exit(3)
        time.sleep(0.005)
    n, claim_s, worst_s, finish_s = 0, 0.0, 0.0, 0.0
    while True:
        t0 = time.perf_counter()
        claim = queue.claim_next(engine, wid, "cpu")
        t1 = time.perf_counter()
        if claim is None:
            break
        claim_s, worst_s = claim_s + t1 - t0, max(worst_s, t1 - t0)
        queue.finish(engine, claim, wid, Outcome.SUCCEEDED)
        finish_s += time.perf_counter() - t1
        n += 1
    done = time.time()
    with Session(engine) as s:  # runs still queued when claim_next said None (see "None early")
        left = s.exec(select(func.count()).select_from(Run).where(Run.status == RunStatus.QUEUED)).one()
    with open(out + ".tmp", "w") as f:
        json.dump(dict(n=n, claim_s=claim_s, worst_s=worst_s, finish_s=finish_s, done=done, left=left), f)
    os.replace(out + ".tmp", out)
""")

# Part 2's two workers. victim: claim, report, then sleep until killed (or, on SIGUSR2, requeue
# and exit). poller: after a phase delay, poll like a slot (requeue_expired, claim_next, sleep).
WORKER = textwrap.dedent("""
    import json, os, signal, sys, time
    from engine.spec import Outcome
    from engine.store import queue
    from engine.store.db import open_db

    role, url, wid, go, out, lease_s, poll_s, phase_s = sys.argv[1:9]
    lease_s, poll_s, phase_s = float(lease_s), float(poll_s), float(phase_s)

    def report(**values):
        with open(out + ".tmp", "w") as f:
            json.dump(values, f)
        os.replace(out + ".tmp", out)

    parent = os.getppid()
    engine = open_db(url, create=False, name=wid)
    open(f"{out}.ready", "w").close()
    while not os.path.exists(go):
        if os.getppid() != parent:
            sys.exit(3)
        time.sleep(0.002)
    if role == "victim":
        claim = None

        def requeue(signum, frame):  # what a worker does on Slurm's preemption signal
            queue.finish(engine, claim, wid, Outcome.REQUEUED, "preempted")
            report(requeued=time.time())
            os._exit(0)

        signal.signal(signal.SIGUSR2, requeue)
        claim = queue.claim_next(engine, wid, "cpu", lease_s=lease_s)
        if claim is None:
            sys.exit("victim: nothing to claim")
        report(claimed=time.time(), run_id=claim.run_id)
        while os.getppid() == parent:
            time.sleep(0.2)
        sys.exit(3)
    time.sleep(phase_s)
    polls, poll_cost = 0, 0.0
    while True:
        t0, wall0 = time.perf_counter(), time.time()
        queue.requeue_expired(engine)
        claim = queue.claim_next(engine, wid, "cpu")
        if claim is not None:
            claimed = time.time()
            queue.finish(engine, claim, wid, Outcome.SUCCEEDED)
            polls, poll_cost = polls + 1, poll_cost + claimed - wall0
            report(claimed=claimed, run_id=claim.run_id, polls=polls, poll_s=poll_cost / polls)
            sys.exit(0)
        polls, poll_cost = polls + 1, poll_cost + time.perf_counter() - t0
        if os.getppid() != parent:
            sys.exit(3)
        time.sleep(poll_s)
""")


def specs(n: int) -> list[RunSpec]:
    return [RunSpec(task="ner", model_name="tiny", model="tiny", method="full", source=("en",), targets=("swa",),
                    setting="zero-shot", seed=seed, data={"en": "masakhaner", "swa": "masakhaner"},
                    train=TrainParams()) for seed in range(n)]


class Procs:
    """Every child process started, so each is killed and reaped whatever happens."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.started: list[subprocess.Popen] = []
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
        self.env = env

    def start(self, script: str, *args: str, name: str) -> subprocess.Popen:
        err = open(self.folder / f"{name}.err", "wb")
        # a session of its own: a Ctrl-C reaches only the benchmark, which then stops the children itself
        proc = subprocess.Popen([sys.executable, "-c", script, *args], cwd=REPO, env=self.env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
        err.close()
        self.started.append(proc)
        return proc

    def stderr(self, name: str) -> str:
        path = self.folder / f"{name}.err"
        return path.read_text(errors="replace").strip()[-1500:] if path.exists() else ""

    def reap(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
        for proc in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        self.started = [p for p in self.started if p.returncode is None]


def wait_files(paths: list[Path], procs: list[tuple[str, subprocess.Popen]], owner: Procs, timeout: float,
               what: str) -> None:
    """Until every path exists; a child that died first (or the timeout) is an error with its stderr."""
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in paths):
        for name, proc in procs:
            if proc.poll() is not None and not (owner.folder / name).exists():
                raise RuntimeError(f"{name} exited {proc.returncode} before {what}:\n{owner.stderr(name)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.002)


@dataclass
class Backend:
    name: str
    new_url: Callable[[], str]  # a fresh, empty database each call


def backends(args: argparse.Namespace, stack: contextlib.ExitStack, tmp: Path,
             console: Console) -> tuple[list[Backend], str]:
    """The backends asked for and the PostgreSQL version (or why there is none)."""
    wanted = {b.strip() for b in args.backends.split(",")}
    found: list[Backend] = []
    counter = iter(range(1_000_000))
    if "sqlite" in wanted:
        found.append(Backend("SQLite", lambda: str(tmp / f"sqlite-{next(counter)}.db")))
    version = "not measured"
    if "postgresql" in wanted:
        try:
            server = pg.start()
        except (pg.ServerUnavailable, OSError, subprocess.SubprocessError) as exc:
            version = "unavailable"
            console.print(f"[yellow]PostgreSQL cannot start here, measuring SQLite only: {exc}[/]")
        else:
            stack.callback(server.stop)
            version = server.psql("SHOW server_version")
            found.append(Backend("PostgreSQL", server.new_database))
    return found, version
