"""Is the app's once-a-second poll cheap on 10,000 runs and a million metric points?

Fills a temporary SQLite database (``engine.store.db.open_db``: WAL, the real schema and
indexes) with --runs runs over 20 studies (mostly succeeded, with per-type results;
some queued, failed, cancelled; --running of them running with long metric histories
and system samples) and --points metric points in all, by bulk insert. Then times, in
one process:

* the poll's database read, ``SnapshotReader.read``: the first (cold) read, a read after
  the running runs wrote new points (the usual case while training), and a read when
  nothing was written (``PRAGMA data_version`` lets it skip the work), each with the run
  detail of a running run open (its whole metric history on the first read);
* a naive baseline read of the same information: every run through the ORM,
  ``engine.store.queries.study_summaries``, final scores of every finished run, and the open
  run's full metric history, every time;
* the app (headless ``run_test``, 120×40): time to the first painted screen with data,
  poll + render of one update (read, ``screen.show``, repaint), the run detail with a long
  history, and key-press latency while the poll runs and a writer thread keeps writing;
* Textual's DataTable filled with the same 10,000 rows, the widget the run list replaces.

Prints a table; no timing is asserted. ``python bench/tui_poll.py [--runs N --points N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.store.db import open_db

T0 = 1_750_000_000.0


def fill(path: Path, runs: int, points: int, running: int) -> dict[str, int]:
    """Bulk-insert a study database; returns ids worth opening."""
    open_db(str(path)).dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    con.executemany("INSERT INTO study (id, name, external, created_at) VALUES (?, ?, 0, ?)",
                    [(s, f"study-{s:02d}", T0) for s in range(1, 21)])
    status_of = {}
    for i in range(1, runs + 1):
        status_of[i] = ("running" if i > runs - running else "queued" if i > runs * 0.9 else
                        "failed" if i % 97 == 0 else "cancelled" if i % 389 == 0 else "succeeded")
    run_rows, attempt_rows = [], []
    for i, st in status_of.items():
        started = None if st == "queued" else T0 - 10 * (runs - i) - 600
        finished = started + 300 + i % 50 if st in ("succeeded", "failed", "cancelled") else None
        run_rows.append((i, 1 + i % 20, f"{i:016x}", "{}", ("xlmr", "mbert", "madx")[i % 3], "full", "ner",
                         "zero-shot", i % 5, "en", "swa,yor,hau", st, 0, 1 if started else 0, 0, 3,
                         f"cuda:{i % 8}" if started else None, i if started else None, T0 - 1e5, started,
                         finished, "OutOfMemoryError: CUDA out of memory\nlog: /x/run.log" if st == "failed" else None))
        if started:
            attempt_rows.append((i, i, 1, "box:1:cuda:0", f"cuda:{i % 8}", started, finished,
                                 None if st == "running" else st))
    con.executemany("INSERT INTO run (id, study_id, spec_hash, spec_json, model_name, method, task, setting, seed, "
                    "source, targets, status, priority, attempts, retry_base, max_attempts, device, attempt_id, "
                    "created_at, started_at, finished_at, error) VALUES (" + ",".join("?" * 22) + ")", run_rows)
    con.executemany("INSERT INTO attempt (id, run_id, number, worker_id, device, started_at, finished_at, outcome) "
                    "VALUES (?,?,?,?,?,?,?,?)", attempt_rows)
    results = [(i, i, lang, "test", m, 0.5 + (i % 13) / 100) for i, st in status_of.items() if st == "succeeded"
               for lang in ("swa", "yor", "hau") for m in ("f1", "precision", "recall", "f1:PER", "f1:LOC")]
    con.executemany("INSERT INTO result (run_id, attempt_id, language, split, metric, value) VALUES (?,?,?,?,?,?)",
                    results)
    live = [i for i, st in status_of.items() if st == "running"]
    finished = [i for i, st in status_of.items() if st in ("succeeded", "failed", "cancelled")]
    long_share = points * 4 // 10  # the running runs carry long histories, the rest share the remainder
    per_live, per_done = long_share // max(1, len(live)) // 2, (points - long_share) // max(1, len(finished)) // 2

    def rows():
        for run_id, n in [(i, per_live) for i in live] + [(i, per_done) for i in finished]:
            for step in range(1, n + 1):
                yield (run_id, run_id, step, "train_loss", 2.0 / (1 + step / 500), T0)
                yield (run_id, run_id, step, "lr", 2e-5, T0)
            yield (run_id, run_id, 0, "total_steps", float(n * 2), T0)

    con.executemany("INSERT INTO metricpoint (run_id, attempt_id, step, name, value, t) VALUES (?,?,?,?,?,?)", rows())
    con.executemany("INSERT INTO systemsample (run_id, attempt_id, t, device, rss_bytes, gpu_allocated_bytes, "
                    "gpu_reserved_bytes, gpu_peak_bytes, gpu_util_percent) VALUES (?,?,?,?,?,?,?,?,?)",
                    [(i, i, T0 - 2 * k, "cuda:0", 3 << 30, 9 << 30, 12 << 30, 10 << 30, 80.0)
                     for i in live for k in range(1000)])
    con.commit()
    con.close()
    return {"running": live[0], "steps": per_live}


def write_points(path: Path, attempts: list[int], start: int, n: int = 25) -> None:
    """What the running runs write between two polls."""
    con = sqlite3.connect(path, timeout=60)
    con.executemany("INSERT INTO metricpoint (run_id, attempt_id, step, name, value, t) VALUES (?,?,?,?,?,?)",
                    [(a, a, start + k, name, 0.3, T0) for a in attempts for k in range(n) for name in ("train_loss", "lr")])
    con.commit()
    con.close()


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def naive_read(engine, run_id: int) -> None:
    """What a straightforward poll would do: read everything, every time."""
    from sqlmodel import Session, select

    from engine.store.queries import list_runs, run_scores, study_summaries
    from engine.store.schema import MetricPoint, Run

    runs = list_runs(engine)
    study_summaries(engine)
    run_scores(engine, [r for r in runs if r.status == "succeeded"], "f1")
    with Session(engine) as s:
        list(s.exec(select(MetricPoint).where(MetricPoint.run_id == run_id)))
        s.exec(select(Run).where(Run.id == run_id)).one()


async def app_timings(db: Path, ids: dict[str, int], live: list[int]) -> dict[str, list[float]]:
    from xltui.app import XltuiApp
    from xltui.tui.run_screen import RunScreen

    out: dict[str, list[float]] = {}
    started = time.perf_counter()
    app = XltuiApp(str(db), gpu_probe=None)
    async with app.run_test(size=(120, 40)) as pilot:
        while app.snapshot is None:
            await pilot.pause(0.01)
        await pilot.pause()
        out["app: start → first screen with data"] = [time.perf_counter() - started]
        screen, reader = app.screen, app.reader
        step = [10**6]

        def cycle() -> None:
            write_points(db, live, step[0])
            step[0] += 100

        samples = []
        for _ in range(10):
            cycle()
            t = time.perf_counter()
            snap = reader.read()
            screen.show(snap)
            await pilot.pause()
            samples.append(time.perf_counter() - t)
        out["app: poll + render, runs changed"] = samples
        t = time.perf_counter()
        app.open_run(ids["running"])
        while not (isinstance(app.screen, RunScreen) and app.screen.detail is not None):
            await pilot.pause(0.01)
        await pilot.pause()
        out[f"app: open run detail ({ids['steps']:,} steps of history)"] = [time.perf_counter() - t]
        samples = []
        for _ in range(10):
            cycle()
            t = time.perf_counter()
            snap = reader.read(detail_run_id=ids["running"])
            app.screen.show(snap)
            await pilot.pause()
            samples.append(time.perf_counter() - t)
        out["app: poll + render, run detail open"] = samples
        await pilot.press("escape")
        samples = []
        for key in ["down"] * 15 + ["up"] * 15:
            t = time.perf_counter()
            await pilot.press(key)
            samples.append(time.perf_counter() - t)
        out["app: key press, nothing written (pilot's own cost)"] = samples
        stop = threading.Event()

        def writer() -> None:
            while not stop.wait(0.3):
                cycle()

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        samples = []
        for key in ["down"] * 15 + ["up"] * 15:
            t = time.perf_counter()
            await pilot.press(key)
            samples.append(time.perf_counter() - t)
        stop.set()
        thread.join()
        out["app: key press, runs writing every 0.3 s"] = samples
    return out


async def datatable_baseline(rows: list[tuple]) -> float:
    from textual.app import App
    from textual.widgets import DataTable

    class Bare(App):
        def compose(self):
            yield DataTable()

    app = Bare()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(DataTable)
        table.add_columns(*(f"c{i}" for i in range(len(rows[0]))))
        t = time.perf_counter()
        table.add_rows(rows)
        await pilot.pause()
        return time.perf_counter() - t


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=10_000)
    p.add_argument("--points", type=int, default=1_000_000)
    p.add_argument("--running", type=int, default=8)
    args = p.parse_args(argv)
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "experiments.db"
        t = time.perf_counter()
        ids = fill(db, args.runs, args.points, args.running)
        con = sqlite3.connect(db)
        n_points = con.execute("SELECT count(*) FROM metricpoint").fetchone()[0]
        n_runs = con.execute("SELECT count(*) FROM run").fetchone()[0]
        live = [r[0] for r in con.execute("SELECT id FROM run WHERE status='running'")]
        con.close()
        console.print(f"filled {n_runs:,} runs, {n_points:,} metric points in {time.perf_counter() - t:.1f}s")

        from xltui.tui.snapshot import SnapshotReader

        engine = open_db(str(db))
        rows: list[tuple[str, list[float]]] = []
        reader = SnapshotReader(engine)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import xltui.cli, xltui.app"], check=True,
                       cwd=Path(__file__).resolve().parents[1])
        rows.append(("python -c 'import xltui.cli, xltui.app'", [time.perf_counter() - started]))
        rows.append(("read: first (cold), run detail open", timed(lambda: reader.read(ids["running"]), 1)))
        step = [10**7]

        def changed() -> None:
            write_points(db, live, step[0])
            step[0] += 100

        def after_write() -> float:
            changed()
            t = time.perf_counter()
            reader.read(ids["running"])
            return time.perf_counter() - t

        rows.append(("read: runs wrote points, detail open", [after_write() for _ in range(10)]))
        rows.append(("read: nothing written, detail open", timed(lambda: reader.read(ids["running"]), 10)))
        rows.append(("baseline: naive full read", timed(lambda: naive_read(engine, ids["running"]), 3)))
        timings = asyncio.run(app_timings(db, ids, live))
        rows += list(timings.items())
        table_rows = [(str(i), "succeeded", "xlmr", "full", "ner", "zero-shot", "en→swa,yor,hau", "1", "55.6",
                       "cuda:0", "5m00s") for i in range(args.runs)]
        rows.append((f"baseline: DataTable.add_rows({args.runs:,})", [asyncio.run(datatable_baseline(table_rows))]))
    table = Table(title=f"TUI poll on {n_runs:,} runs / {n_points:,} metric points (ms)", title_justify="left")
    for col in ("what", "n", "median", "p95 / max"):
        table.add_column(col, justify="left" if col == "what" else "right")
    for name, values in rows:
        values = sorted(values)
        p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
        table.add_row(name, str(len(values)), f"{1000 * statistics.median(values):.1f}", f"{1000 * p95:.1f}")
    console.print(table)


if __name__ == "__main__":
    main()
