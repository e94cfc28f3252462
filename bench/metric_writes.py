"""How much does batching metric writes buy over one transaction per point?

A training loop logs a few metric points per step (train_loss, lr, ...). The engine
writes them through ``engine.store.telemetry.MetricWriter``, which buffers and flushes a
multi-row insert every ``flush_every`` points or ``flush_s`` seconds. This benchmark
writes --points metric rows that way (``.log(step, train_loss=..., lr=...)`` per step,
then ``.close()``) and compares the rate with the naive alternative, one transaction per
point, done two ways: an ORM ``Session.add(MetricPoint(...)); session.commit()`` and a
Core ``with engine.begin(): insert`` per point. All three write into the same fresh
SQLite database (``engine.store.db.open_db``: WAL, synchronous=FULL, foreign keys on),
each under its own claimed run/attempt so every variant's row count is verified
exactly. Per-point baselines are slow, so they write --baseline-points rows and the
comparison is of rates (points/s). Every variant runs twice: with synchronous=FULL (the
engine's setting: a commit survives an OS crash) and NORMAL (what it replaced). No timing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.table import Table
from sqlalchemy import event, func, insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from engine.runner.plan import queue_runs
from engine.spec import RunSpec, TrainParams
from engine.store import queue
from engine.store.db import open_db
from engine.store.schema import MetricPoint
from engine.store.telemetry import MetricWriter

SYNCHRONOUS = ("NORMAL", "FULL")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=20_000, help="metric rows written through MetricWriter")
    p.add_argument("--baseline-points", type=int, default=2_000, help="rows written one transaction each")
    p.add_argument("--flush-every", type=int, default=None, help="MetricWriter flush_every (default: its own)")
    return p.parse_args(argv)


def repro(args: argparse.Namespace) -> str:
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None)
    return f"python bench/metric_writes.py {flags}"


def claim_attempts(engine: Engine, n: int) -> list[queue.Claim]:
    """n runs queued and claimed, so metric rows have real Run and Attempt rows to point at."""
    specs = [RunSpec(task="ner", model_name="tiny", model="tiny", method="full", source=("en",),
                     targets=("swa",), setting="zero-shot", seed=seed, data={"en": "x", "swa": "x"},
                     train=TrainParams()) for seed in range(n)]
    queue_runs(engine, "bench-metrics", specs)
    claims = [queue.claim_next(engine, "bench", "cpu") for _ in range(n)]
    assert all(c is not None for c in claims), "could not claim the benchmark runs"
    return claims  # type: ignore[return-value]


def values(i: int) -> tuple[float, float]:
    return 2.0 / (1 + i * 1e-3), 1e-3 * (1 - i / 1e6)


def write_batched(engine: Engine, claim: queue.Claim, n: int, flush_every: int | None) -> None:
    kwargs = {} if flush_every is None else {"flush_every": flush_every}
    writer = MetricWriter(engine, claim.run_id, claim.attempt_id, **kwargs)
    for step in range(n // 2):
        loss, lr = values(step)
        writer.log(step, train_loss=loss, lr=lr)
    if n % 2:
        writer.log(n // 2, train_loss=values(n // 2)[0])
    writer.close()


def point(claim: queue.Claim, i: int) -> dict:
    step, name = i // 2, ("train_loss", "lr")[i % 2]
    return dict(run_id=claim.run_id, attempt_id=claim.attempt_id, step=step, name=name,
                value=values(step)[i % 2], t=time.time())


def write_orm_per_point(engine: Engine, claim: queue.Claim, n: int) -> None:
    with Session(engine) as session:
        for i in range(n):
            session.add(MetricPoint(**point(claim, i)))
            session.commit()


def write_core_per_point(engine: Engine, claim: queue.Claim, n: int) -> None:
    stmt = insert(MetricPoint)
    for i in range(n):
        with engine.begin() as conn:
            conn.execute(stmt, point(claim, i))


def count_rows(engine: Engine, attempt_id: int) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(MetricPoint)
                            .where(MetricPoint.attempt_id == attempt_id)).one()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    console.print(f"[bold]reproduce:[/] {repro(args)}")
    flush_every = args.flush_every or MetricWriter.__init__.__kwdefaults__["flush_every"]
    flush_s = MetricWriter.__init__.__kwdefaults__["flush_s"]
    variants: list[tuple[str, int, Callable[[Engine, queue.Claim, int], None]]] = [
        (f"MetricWriter batched ({flush_every} pts / {flush_s}s)", args.points,
         lambda e, c, n: write_batched(e, c, n, args.flush_every)),
        ("ORM Session.add+commit per point", args.baseline_points, write_orm_per_point),
        ("Core engine.begin()+insert per point", args.baseline_points, write_core_per_point),
    ]
    rows: list[tuple[str, int, float, int]] = []
    for mode in SYNCHRONOUS:  # the engine's setting (FULL since #15) beside the one it replaced
        with tempfile.TemporaryDirectory(prefix="xltui-bench-metrics-") as tmp:
            db = Path(tmp) / "bench.db"
            engine = open_db(str(db))
            engine.dispose()
            event.listen(engine, "connect", lambda conn, _r, m=mode: conn.execute(f"PRAGMA synchronous={m}"))
            claims = claim_attempts(engine, len(variants))
            for (label, n, fn), claim in zip(variants, claims):
                t0 = time.perf_counter()
                fn(engine, claim, n)
                seconds = time.perf_counter() - t0
                rows.append((f"{label}, synchronous={mode}", n, seconds, count_rows(engine, claim.attempt_id)))
            size_mb = sum(p.stat().st_size for p in Path(tmp).glob("bench.db*")) / 1e6
            engine.dispose()

    base_rate = args.baseline_points / rows[1][2]
    table = Table(title=f"Metric writes into one fresh SQLite file (WAL), {size_mb:.1f} MB at the end")
    for col, justify in (("method", "left"), ("points", "right"), ("seconds", "right"),
                         ("points/s", "right"), ("vs ORM", "right"), ("rows ok", "center")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    ok = True
    for label, n, seconds, found in rows:
        rate = n / seconds
        good = found == n
        ok &= good
        table.add_row(label, f"{n:,}", f"{seconds:.3f}", f"{rate:,.0f}", f"{rate / base_rate:.1f}x",
                      "yes" if good else f"NO ({found:,})")
    console.print(table)
    console.print(f"Per-point baselines wrote {args.baseline_points:,} rows, MetricWriter {args.points:,}; "
                  "speed-ups compare rates (points/s), not totals.")
    if not ok:
        console.print("[red]row counts do not match what was written[/]")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
