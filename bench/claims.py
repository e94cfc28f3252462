"""How fast can many workers claim runs, on SQLite vs PostgreSQL, and how soon is a dead worker's run taken by another?

Two parts, each on a fresh SQLite file (``engine.store.db.open_db``: WAL, busy timeout)
and on a fresh database of a throw-away PostgreSQL server started through ``tests/support/pg.py``
(where it cannot start, the reason is printed and only SQLite is measured).

1. Claim throughput. For each count in --claimers, --runs runs are queued
   (``engine.runner.plan.queue_runs``) and that many claimer *processes* are started, as
   real workers are separate processes. Each opens the database, signals ready and waits
   for a common start file, so interpreter start-up and imports are not timed; then it
   loops ``queue.claim_next`` + ``queue.finish(..., SUCCEEDED)`` until ``claim_next``
   returns None. Wall time runs from touching the start file until the last claimer got
   its None (the time until every process has exited is shown too). Afterwards the
   database must hold exactly one attempt per run, every run succeeded and the claimers'
   counts must add up: "ok", else "MISMATCH". "None early" counts claimers whose
   ``claim_next`` returned None while runs were still queued: on SQLite only after
   ``CLAIM_TRIES`` lost races in a row; on PostgreSQL also when every run left was locked
   by other claimers in mid-claim (SKIP LOCKED), which is right at the queue's tail. A
   real worker would just poll again. The baseline is
   the smallest claimer count on the same backend. With more processes than cores (64 on
   a 2-core machine) this mostly measures contention, which is the point.

2. Death to re-claim. One run is queued; a "victim" process claims it, and a second
   process polls as a real worker's slot does (``requeue_expired`` then ``claim_next``,
   then sleep --poll seconds). (a) lease path: the victim claimed with ``lease_s`` =
   --lease and is killed with SIGKILL right after; the run can be taken once the lease
   has expired, so the delay from the kill to the other's claim should lie between L and
   L + poll. (b) requeue path (a Slurm preemption): the victim gets SIGUSR2, its handler
   calls ``queue.finish(..., REQUEUED)`` and exits; the delay from the signal should lie
   between 0 and poll. The poller's phase relative to the kill is spread evenly over the
   poll period across the --repeats repeats (a real idle worker's phase is arbitrary), so
   the median is about L + poll/2, resp. poll/2. Each repeat uses a fresh database and
   checks the attempts: the victim's ended "lost" (a) or "requeued" (b), the poller's
   succeeded.

Prints a machine line and one table per part; no timing is asserted.
``python bench/claims.py [--quick] [--runs N --claimers 1,4,16,64 --lease 5 --poll 1 --repeats 3]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console
from rich.table import Table
from sqlalchemy import func
from sqlmodel import Session, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.pg when run as `python bench/claims.py`

from claim_procs import CLAIMER, READY_TIMEOUT_S, WORKER, Backend, Procs, backends, specs, wait_files

from engine.runner.plan import queue_runs
from engine.spec import Outcome, RunStatus
from engine.store.db import open_db
from engine.store.schema import Attempt, Run


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a short check: --runs 200 --claimers 1,4 --repeats 1")
    p.add_argument("--runs", type=int, default=None, help="runs queued per throughput measurement (2000)")
    p.add_argument("--claimers", type=str, default=None, help="claimer process counts, comma-separated (1,4,16,64)")
    p.add_argument("--lease", type=float, default=5.0, help="lease of the killed worker's claim, seconds")
    p.add_argument("--poll", type=float, default=1.0, help="the polling worker's sleep between polls, seconds")
    p.add_argument("--repeats", type=int, default=None, help="repeats of each death-to-reclaim case (3)")
    p.add_argument("--backends", type=str, default="sqlite,postgresql", help="which backends to measure")
    args = p.parse_args(argv)
    quick = args.quick
    args.runs = args.runs or (200 if quick else 2000)
    args.claimers = args.claimers or ("1,4" if quick else "1,4,16,64")
    args.repeats = args.repeats or (1 if quick else 3)
    return args


def repro(args: argparse.Namespace) -> str:
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "quick")
    return f"python bench/claims.py {flags}"


# -- part 1 -------------------------------------------------------------------------------
@dataclass
class Throughput:
    backend: str
    claimers: int
    runs: int
    wall_s: float
    exit_s: float
    claim_ms: float
    worst_claim_ms: float
    finish_ms: float
    per_worker: tuple[int, int]
    none_early: int
    ok: bool


def verify_all_once(url: str, runs: int, claimed: int) -> bool:
    """Each run claimed exactly once and succeeded, and the claimers' own counts agree."""
    engine = open_db(url, create=False)
    try:
        with Session(engine) as s:
            statuses = Counter(s.exec(select(Run.status)).all())
            per_run = Counter(n for _, n in s.exec(select(Attempt.run_id, func.count()).group_by(Attempt.run_id)))
            outcomes = Counter(s.exec(select(Attempt.outcome)).all())
    finally:
        engine.dispose()
    return (claimed == runs and statuses == {RunStatus.SUCCEEDED: runs} and per_run == {1: runs}
            and outcomes == {Outcome.SUCCEEDED: runs})


def throughput(backend: Backend, claimers: int, runs: int, procs: Procs) -> Throughput:
    url = backend.new_url()
    engine = open_db(url)
    queue_runs(engine, "bench-claims", specs(runs))
    engine.dispose()
    tag = f"{backend.name.lower()}-c{claimers}"
    go = procs.folder / f"{tag}.go"
    names = [f"{tag}-w{i}" for i in range(claimers)]
    started = [(name, procs.start(CLAIMER, url, name, str(go), str(procs.folder / name), name=name))
               for name in names]
    wait_files([procs.folder / f"{n}.ready" for n in names], started, procs, READY_TIMEOUT_S, "claimers ready")
    t_go = time.time()
    go.touch()
    for name, proc in started:
        if proc.wait(timeout=1800) != 0:
            raise RuntimeError(f"claimer {name} exited {proc.returncode}:\n{procs.stderr(name)}")
    exit_s = time.time() - t_go
    results = [json.loads((procs.folder / n).read_text()) for n in names]
    counts = [r["n"] for r in results]
    total = sum(counts)
    return Throughput(
        backend.name, claimers, runs, max(r["done"] for r in results) - t_go, exit_s,
        1000 * sum(r["claim_s"] for r in results) / max(total, 1), 1000 * max(r["worst_s"] for r in results),
        1000 * sum(r["finish_s"] for r in results) / max(total, 1), (min(counts), max(counts)),
        sum(1 for r in results if r["left"] > 0), verify_all_once(url, runs, total))


def throughput_table(rows: list[Throughput]) -> Table:
    table = Table(title="Part 1: claim + finish throughput, N claimer processes draining one queue")
    for col in ("backend", "claimers", "runs", "wall s", "claims/s", "vs fewest", "claim ms", "worst claim ms",
                "finish ms", "per worker", "exit s", "None early", "check"):
        table.add_column(col, justify="left" if col in ("backend", "check") else "right")
    base: dict[str, float] = {}
    for r in rows:
        rate = r.runs / r.wall_s
        base.setdefault(r.backend, rate)
        table.add_row(r.backend, str(r.claimers), f"{r.runs:,}", f"{r.wall_s:.2f}", f"{rate:,.0f}",
                      f"{rate / base[r.backend]:.2f}x", f"{r.claim_ms:.1f}", f"{r.worst_claim_ms:,.0f}",
                      f"{r.finish_ms:.1f}", f"{r.per_worker[0]}–{r.per_worker[1]}", f"{r.exit_s:.2f}",
                      str(r.none_early), "ok" if r.ok else "[red]MISMATCH[/]")
    return table


# -- part 2 -------------------------------------------------------------------------------
@dataclass
class Reclaim:
    delay_s: float
    poll_ms: float
    back_ms: float | None  # requeue path: signal -> the victim's finish(REQUEUED) returned
    ok: bool


def verify_handover(url: str, run_id: int, victim: str, poller: str, first: Outcome) -> bool:
    engine = open_db(url, create=False)
    try:
        with Session(engine) as s:
            run = s.get(Run, run_id)
            attempts = s.exec(select(Attempt).where(Attempt.run_id == run_id).order_by(Attempt.number)).all()
    finally:
        engine.dispose()
    return (run is not None and run.status == RunStatus.SUCCEEDED
            and [(a.worker_id, a.outcome) for a in attempts] == [(victim, first), (poller, Outcome.SUCCEEDED)])


def reclaim(backend: Backend, path: str, repeat: int, phase_s: float, args: argparse.Namespace,
            procs: Procs) -> Reclaim:
    url = backend.new_url()
    engine = open_db(url)
    queue_runs(engine, "bench-reclaim", specs(1))
    engine.dispose()
    tag = f"{backend.name.lower()}-{path}-{repeat}"
    victim, poller = f"{tag}-victim", f"{tag}-poller"
    go_v, go_p = procs.folder / f"{victim}.go", procs.folder / f"{poller}.go"
    common = (str(args.lease), str(args.poll))
    pv = procs.start(WORKER, "victim", url, victim, str(go_v), str(procs.folder / victim), *common, "0", name=victim)
    pp = procs.start(WORKER, "poller", url, poller, str(go_p), str(procs.folder / poller), *common, str(phase_s),
                     name=poller)
    both = [(victim, pv), (poller, pp)]
    wait_files([procs.folder / f"{victim}.ready", procs.folder / f"{poller}.ready"], both, procs, READY_TIMEOUT_S,
               "workers ready")
    go_v.touch()
    wait_files([procs.folder / victim], both, procs, 60, "the victim's claim")
    run_id = json.loads((procs.folder / victim).read_text())["run_id"]
    (procs.folder / victim).unlink()  # the requeue path reports again into the same file
    go_p.touch()
    t0 = time.time()
    if path == "lease":
        pv.kill()
    else:
        pv.send_signal(signal.SIGUSR2)
    wait_files([procs.folder / poller], [(poller, pp)], procs, args.lease + 10 * args.poll + 60,
               "the other worker's claim")
    got = json.loads((procs.folder / poller).read_text())
    pp.wait(timeout=60)
    pv.wait(timeout=60)
    back_ms = None
    if path == "requeue":
        if pv.returncode != 0 or not (procs.folder / victim).exists():
            raise RuntimeError(f"victim exited {pv.returncode} without requeueing:\n{procs.stderr(victim)}")
        back_ms = 1000 * (json.loads((procs.folder / victim).read_text())["requeued"] - t0)
    first = Outcome.LOST if path == "lease" else Outcome.REQUEUED
    ok = got["run_id"] == run_id and verify_handover(url, run_id, victim, poller, first)
    return Reclaim(got["claimed"] - t0, 1000 * got["poll_s"], back_ms, ok)


def reclaim_table(rows: list[tuple[str, str, list[Reclaim]]], args: argparse.Namespace) -> Table:
    table = Table(title=f"Part 2: worker death to another worker's claim (lease {args.lease:g} s, "
                        f"poll every {args.poll:g} s, {args.repeats} repeat(s), phases spread over the poll)")
    for col in ("backend", "path", "median s", "min s", "max s", "expected s", "poll ms",
                "signal → queued ms", "check"):
        table.add_column(col, justify="left" if col in ("backend", "path", "check") else "right")
    for backend, path, results in rows:
        delays = [r.delay_s for r in results]
        lo, hi = (args.lease, args.lease + args.poll) if path == "lease" else (0.0, args.poll)
        backs = [r.back_ms for r in results if r.back_ms is not None]
        label = "lease expiry (SIGKILL)" if path == "lease" else "requeue (SIGUSR2 → finish REQUEUED)"
        table.add_row(backend, label, f"{statistics.median(delays):.2f}", f"{min(delays):.2f}",
                      f"{max(delays):.2f}", f"{lo:g}–{hi:g}",
                      f"{statistics.median(r.poll_ms for r in results):.1f}",
                      f"{statistics.median(backs):.0f}" if backs else "–",
                      "ok" if all(r.ok for r in results) else "[red]MISMATCH[/]")
    return table


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """A SIGTERM unwinds like Ctrl-C, so the children and the server are still stopped."""
    def stop(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    counts = [int(c) for c in args.claimers.split(",")]
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(f"[bold]reproduce:[/] {repro(args)}")
    with sigterm_as_exit(), contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="xltui-bench-claims-")))
        procs = Procs(tmp)
        found, pg_version = backends(args, stack, tmp, console)
        stack.callback(procs.reap)  # runs before the server stops and the folder goes
        console.print(f"[bold]machine:[/] {os.cpu_count()} CPUs, Python {platform.python_version()}, "
                      f"SQLite {sqlite3.sqlite_version}, PostgreSQL {pg_version}, "
                      f"load average {os.getloadavg()[0]:.2f} at the start (other work skews the timings)")
        rows = []
        for backend in found:
            for n in counts:
                rows.append(throughput(backend, n, args.runs, procs))
                console.print(f"  {backend.name}, {n} claimers: {args.runs / rows[-1].wall_s:,.0f} claims/s",
                              style="dim")
        console.print(throughput_table(rows))
        console.print(f"claim ms / finish ms: mean time per call inside a claimer (waiting for locks included); "
                      f"{os.cpu_count()} cores shared by all claimers. exit s: start to the last process gone. "
                      "None early: claim_next said None with runs still queued (PostgreSQL: also runs locked by "
                      "other claimers mid-claim).")
        handovers = []
        for backend in found:
            for path in ("lease", "requeue"):
                results = [reclaim(backend, path, i, (i + 0.5) / args.repeats * args.poll, args, procs)
                           for i in range(args.repeats)]
                handovers.append((backend.name, path, results))
                console.print(f"  {backend.name}, {path}: " + ", ".join(f"{r.delay_s:.2f}s" for r in results),
                              style="dim")
        console.print(reclaim_table(handovers, args))
        console.print("expected: lease path between L and L + poll after the kill; requeue path between 0 and "
                      "poll after the signal (the poller's phase decides where). poll ms: mean time of one "
                      "requeue_expired + claim_next.")
    console.print(f"load average {os.getloadavg()[0]:.2f} at the end")
    ok = all(r.ok for r in rows) and all(r.ok for _, _, rs in handovers for r in rs)
    if not ok:
        console.print("[red]some runs were not claimed exactly once or not handed over as expected[/]")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the children and the server were stopped on the way out
        print("interrupted", file=sys.stderr)
        sys.exit(130)
