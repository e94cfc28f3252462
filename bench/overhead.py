"""What does the engine cost on top of the training itself?

The same small NER run (the first run of configs/smoke.yaml: tiny model, en → swa,yor,
seed 1, sized by --sentences/--epochs) is timed two ways, each --repeats times:

* bare: ``engine.training.zeroshot.train_and_evaluate(spec, RunFiles(out_dir), writer=None, device="cpu")``
  called directly in this process (imports already paid, so the cost of a fresh
  ``python -c "import torch, transformers"`` is measured and shown separately);
* engine: a fresh temporary SQLite database, ``queue.enqueue`` of the same spec and one
  ``worker.Slot(..., exit_when_idle=True).run_forever()``, which claims the run, starts
  ``python -m engine.training.run`` (process start, imports, batched metric writes, system
  samples, results) and records the outcome; timed from enqueue to done.

The median ratio engine/bare and the absolute overhead show whether the queue, the
subprocess and the telemetry are small next to a smoke-sized run. It also times the CLI's
start-up (``xltui --help``) against ``python -c pass``, since every command pays it.
Exits non-zero if an engine run does not succeed. No timing is asserted.

Torch on a 2-core box is very sensitive to other CPU load (OpenMP threads spin-wait), so
the order of the two variants alternates between repeats and each time is shown with the
CPU pressure (Linux PSI "some": share of the wall time some task waited for a CPU) seen
while it ran; --threads pins torch's intra-op threads in both variants.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table
from sqlalchemy import func
from sqlmodel import Session, select

from engine.grid.expand import expand
from engine.grid.schema import load_grid
from engine.runfiles import RunFiles
from engine.runner.plan import queue_runs
from engine.runner.slot import Slot
from engine.runner.slot_setup import SlotOptions
from engine.spec import RunSpec, RunStatus
from engine.store.db import open_db
from engine.store.schema import MetricPoint, Run, SystemSample
from engine.training.zeroshot import train_and_evaluate

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", default=str(ROOT / "configs" / "smoke.yaml"), help="grid whose first run is timed")
    p.add_argument("--sentences", type=int, default=400, help="max_train_sentences")
    p.add_argument("--eval-sentences", type=int, default=500, help="max_eval_sentences")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--repeats", type=int, default=1, help="runs per variant; medians are reported")
    p.add_argument("--threads", type=int, default=0, help="torch threads in both variants (0: torch default)")
    p.add_argument("--startup-repeats", type=int, default=5, help="runs of each start-up command")
    return p.parse_args(argv)


def repro(args: argparse.Namespace) -> str:
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items())
    return f"python bench/overhead.py {flags}"


def make_spec(args: argparse.Namespace) -> RunSpec:
    first = expand(load_grid(args.grid))[0]
    data = first.model_dump()
    data["train"].update(max_train_sentences=args.sentences, max_eval_sentences=args.eval_sentences,
                         epochs=args.epochs)
    return RunSpec.model_validate(data)


def time_command(cmd: list[str], n: int) -> float:
    """Median wall time of ``n`` runs of ``cmd`` (output discarded; must exit 0)."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cpu_stall_s() -> float:
    """Seconds some task on this machine waited for a CPU so far (Linux PSI); 0 where unknown."""
    try:
        with open("/proc/pressure/cpu") as fh:
            return int(fh.readline().split("total=")[1]) / 1e6
    except (OSError, IndexError, ValueError):
        return 0.0


def bare_run(spec: RunSpec) -> float:
    with tempfile.TemporaryDirectory(prefix="xltui-bench-bare-") as tmp:
        t0 = time.perf_counter()
        train_and_evaluate(spec, RunFiles(Path(tmp) / "out"), None, "cpu", log=lambda _m: None)
        return time.perf_counter() - t0


def engine_run(spec: RunSpec) -> tuple[float, bool, int, int, str]:
    """(seconds, succeeded, metric points, system samples, status/error) of one queued run."""
    with tempfile.TemporaryDirectory(prefix="xltui-bench-engine-") as tmp:
        db = Path(tmp) / "bench.db"
        engine = open_db(str(db))
        url = f"sqlite:///{db}"
        t0 = time.perf_counter()
        report = queue_runs(engine, "bench", [spec])
        done = Slot(engine, SlotOptions(url, "cpu", exit_when_idle=True)).run_forever()
        seconds = time.perf_counter() - t0
        run_id = report.new[0]
        with Session(engine) as session:
            run = session.get(Run, run_id)
            status = run.status if run else "missing"
            error = (run.error or "") if run else ""
            points = session.exec(select(func.count()).select_from(MetricPoint)
                                  .where(MetricPoint.run_id == run_id)).one()
            samples = session.exec(select(func.count()).select_from(SystemSample)
                                   .where(SystemSample.run_id == run_id)).one()
        engine.dispose()
        ok = done == 1 and status == RunStatus.SUCCEEDED
        return seconds, ok, points, samples, status if ok else f"{status}: {error[-800:]}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    console.print(f"[bold]reproduce:[/] {repro(args)}")
    spec = make_spec(args)
    py = sys.executable
    cli = str(Path(py).parent / "xltui")

    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the run subprocess inherits it
    bare_times, engine_times, points, samples = [], [], [], []
    stalls: dict[str, list[float]] = {"bare": [], "engine": []}
    failures: list[str] = []
    for i in range(args.repeats):
        for variant in ("bare", "engine") if i % 2 == 0 else ("engine", "bare"):
            stall0 = cpu_stall_s()
            if variant == "bare":
                secs = bare_run(spec)
                bare_times.append(secs)
            else:
                secs, ok, n_points, n_samples, status = engine_run(spec)
                engine_times.append(secs)
                points.append(n_points)
                samples.append(n_samples)
                if not ok:
                    failures.append(f"repeat {i + 1}: {status}")
            stalls[variant].append(100 * (cpu_stall_s() - stall0) / secs)
            console.print(f"repeat {i + 1}/{args.repeats}: {variant} {secs:.2f}s, CPU pressure "
                          f"{stalls[variant][-1]:.0f}%" + ("" if variant == "bare" or ok else " RunStatus.FAILED"))

    imports = time_command([py, "-c", "import torch, transformers"], args.startup_repeats)
    engine_imports = time_command([py, "-c", "import engine.training.run, engine.training.zeroshot"], args.startup_repeats)
    py_pass = time_command([py, "-c", "pass"], args.startup_repeats)
    cli_help = time_command([cli, "--help"], args.startup_repeats)

    bare, eng = statistics.median(bare_times), statistics.median(engine_times)
    title = (f"{spec.model} {'+'.join(spec.source)}→{','.join(spec.targets)} seed {spec.seed}, "
             f"{args.sentences} train sentences, {args.epochs} epochs; runs: median of {args.repeats}, "
             f"start-up commands: median of {args.startup_repeats}; torch threads {torch.get_num_threads()}")
    t = Table(title=f"Run overhead: {title}")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_row("bare: train_and_evaluate in-process", f"{bare:.2f} s")
    t.add_row("engine: enqueue → Slot run done", f"{eng:.2f} s")
    t.add_row("CPU pressure during bare / engine (median)",
              f"{statistics.median(stalls['bare']):.0f}% / {statistics.median(stalls['engine']):.0f}%")
    t.add_row("overhead ratio engine / bare", f"{eng / bare:.2f}x")
    t.add_row("absolute overhead engine − bare", f"{eng - bare:+.2f} s")
    t.add_row("fresh python -c 'import torch, transformers'", f"{imports:.2f} s")
    t.add_row("fresh python -c 'import engine.training.run, engine.training.zeroshot'", f"{engine_imports:.2f} s")
    t.add_row("overhead minus engine imports", f"{eng - bare - engine_imports:+.2f} s")
    t.add_row("metric points written (median)", f"{statistics.median(points):.0f}")
    t.add_row("system samples written (median)", f"{statistics.median(samples):.0f}")
    t.add_row("engine runs succeeded", f"{args.repeats - len(failures)}/{args.repeats}")
    console.print(t)

    s = Table(title=f"CLI start-up (median of {args.startup_repeats})")
    s.add_column("command")
    s.add_column("time", justify="right")
    s.add_row(f"{cli} --help", f"{cli_help * 1000:.0f} ms")
    s.add_row(f"{py} -c pass", f"{py_pass * 1000:.0f} ms")
    s.add_row("ratio xltui --help / python -c pass", f"{cli_help / py_pass:.1f}x")
    console.print(s)

    if max(stalls["bare"] + stalls["engine"]) > 10:
        console.print("note: CPU pressure > 10%: the CPU was contended (other processes?); times are noisy")
    for failure in failures:
        console.print(f"[red]engine run failed[/] {failure}", markup=True, highlight=False)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
