"""What does starting a run cost: cold (a fresh interpreter per run) vs warm (forked from
the warm launcher) vs no start-up at all (one process running the runs one after another)?

A study of short runs the size of the paper's few-shot runs — a zero-shot parent per
model and seed, then few-shot runs on K target sentences continuing from it — is run
three ways on the CPU, each in a fresh SQLite database, side by side in one go:

* cold: ``xltui worker --cpu --exit-when-idle --no-warm`` (today's default);
* warm: the same with ``--warm``;
* in one process: this script claims each run and calls ``engine.training.run.main``
  in-process (torch and the trainers imported once, before the clock starts), which
  is what the runs would cost without any start-up.

Both workers are timed from their start to their exit (so the warm launcher's one
import is inside its time); the in-process loop from its first claim to its last
result. The ratios to the in-process time are what to read. A worker pays its launcher's
imports once (measured alone here too): the line under the table gives the warm ratio
without that one start-up, which is what each further run of a longer study costs. Same runs, same seeds:
the train losses of all three must agree ("same" column; to float summation order when the worker
gives each of its 2 slots one thread and the loop here has two). No timing is asserted.

``python bench/run_overhead.py [--models tiny,minilm] [--seeds 2] [--k 4,8]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GRID = """\
study: overhead
task: ner
source: en
targets: [swa]
data:
  ner: masakhaner
models:
{models}
settings: [zero-shot, {{few-shot: [{k}]}}]
seeds: [{seeds}]
train: {{batch_size: 8, max_length: 64, epochs: 1, patience: 1, max_train_sentences: 48, max_eval_sentences: 48}}
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="tiny,minilm", help="model presets (tiny, minilm)")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--k", default="4,8", help="few-shot K values")
    return p.parse_args(argv)


def queue_study(db: Path, grid: Path) -> int:
    from engine.grid.expand import expand
    from engine.grid.schema import load_grid
    from engine.runner.plan import queue_runs
    from engine.store.db import open_db

    spec = load_grid(grid)
    return len(queue_runs(open_db(str(db)), spec.study, expand(spec)).new)


def through_worker(db: Path, warm: bool) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "xltui.cli", "worker", "--db", str(db), "--cpu", "--exit-when-idle",
                    "--poll", "0.05", "--warm" if warm else "--no-warm"], cwd=REPO, check=True,
                   capture_output=True)
    return time.perf_counter() - started


def launcher_start() -> float:
    """Seconds until a warm launcher says it is ready: the one start-up a worker's slot pays."""
    from engine.runner.warm import Launcher

    launcher = Launcher(dict(os.environ), str(REPO))
    started = time.perf_counter()
    launcher.ensure()
    ready = time.perf_counter() - started
    launcher.close()
    return ready


def in_one_process(db: Path, out: Path) -> float:
    """Claim and run every run here, in this process, one after another."""
    from engine.spec import Outcome
    from engine.store import queue
    from engine.store.db import db_url, open_db
    from engine.training import launcher, run

    launcher._preload()  # the imports a warm launcher pays once, before the clock
    url, engine = db_url(str(db)), open_db(str(db))
    started = time.perf_counter()
    while (claim := queue.claim_next(engine, "bench", "cpu", lease_s=3600)) is not None:
        folder = out / f"run-{claim.run_id}"
        folder.mkdir(parents=True)
        with open(folder / "run.log", "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            code = run.main(["--db", url, "--run", str(claim.run_id), "--attempt", str(claim.attempt_id),
                             "--worker", "bench", "--out", str(folder), "--parent-pid", str(os.getppid())])
        if code != 0:
            queue.finish(engine, claim, "bench", Outcome.FAILED, f"exit {code}")
    return time.perf_counter() - started


def summary(db: Path) -> tuple[int, int, list[tuple[int, int, float]]]:
    from sqlmodel import Session, select

    from engine.store.db import open_db
    from engine.store.schema import MetricPoint, Run

    with Session(open_db(str(db), create=False)) as s:
        done = sum(1 for r in s.exec(select(Run)) if r.status == "succeeded")
        total = len(s.exec(select(Run)).all())
        losses = [(p.run_id, p.step, round(p.value, 6)) for p in s.exec(
            select(MetricPoint).where(MetricPoint.name == "train_loss").order_by(MetricPoint.run_id, MetricPoint.step))]
    return done, total, losses


def same_losses(losses: list[tuple[int, int, float]], reference: list[tuple[int, int, float]]) -> str:
    """'yes' when identical; 'yes (max |Δ| …)' when equal but for float summation order (a worker with
    two slots gives each run one CPU thread, the in-process loop two); 'NO' otherwise."""
    if [k[:2] for k in losses] != [k[:2] for k in reference]:
        return "NO (other steps)"
    worst = max((abs(a[2] - b[2]) / max(1.0, abs(b[2])) for a, b in zip(losses, reference)), default=0.0)
    return "yes" if worst == 0 else f"yes (max rel. Δ {worst:.0e})" if worst <= 1e-4 else f"NO (max rel. Δ {worst:.1e})"


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    console = Console()
    os.environ.setdefault("XLTUI_DATA", str(REPO.parent / "shared" / "data"))
    models = "\n".join(f"  - {{name: {m}, model: {m}, method: full, lr: 5.0e-4}}" for m in args.models.split(","))
    text = GRID.format(models=models, k=", ".join(args.k.split(",")),
                       seeds=", ".join(str(s) for s in range(1, args.seeds + 1)))
    rows = []
    with tempfile.TemporaryDirectory(prefix="xltui-bench-runs-") as tmp:
        root = Path(tmp)
        grid = root / "grid.yaml"
        grid.write_text(text)
        os.environ["XLTUI_CACHE"] = str(root / "cache")
        dbs = {name: root / f"{name}.db" for name in ("cold", "warm", "in one process")}
        n = [queue_study(db, grid) for db in dbs.values()][0]
        # a first pass fills the tokenisation cache, so no variant pays for it alone
        subprocess.run([sys.executable, "-m", "xltui.cli", "grid", "validate", str(grid)], cwd=REPO,
                       capture_output=True)
        times = {"cold": through_worker(dbs["cold"], warm=False), "warm": through_worker(dbs["warm"], warm=True)}
        times["in one process"] = in_one_process(dbs["in one process"], root / "inproc")
        start_s = launcher_start()
        reference = summary(dbs["in one process"])[2]
        for name, db in dbs.items():
            done, total, losses = summary(db)
            rows.append((name, done, total, times[name], same_losses(losses, reference)))
    base = times["in one process"]
    table = Table(title=f"{n} short runs ({args.models}; zero-shot parents + few-shot K={args.k}; "
                        f"{args.seeds} seeds) on the CPU", title_justify="left")
    for col in ("how", "succeeded", "wall s", "s per run", "× in one process", "same losses"):
        table.add_column(col, justify="left" if col == "how" else "right")
    for name, done, total, wall, same in rows:
        table.add_row(name, f"{done}/{total}", f"{wall:.1f}", f"{wall / total:.2f}", f"{wall / base:.2f}",
                      same)
    console.print(table)
    steady = times["warm"] - start_s
    console.print(f"warm launcher's one start-up (imports, measured alone): {start_s:.1f} s; the warm worker "
                  f"without it: {steady:.1f} s = {steady / base:.2f}× in one process ({steady / n:.2f} s per run)")
    console.print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
