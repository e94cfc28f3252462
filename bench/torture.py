"""Torture: real workers on one SQLite queue, killed while they work — is anything lost, stuck or done twice?

The harness (phases, kills, the invariants checked) is tests/support/torture.py, shared with
tests/runner/test_torture.py; this script runs it at size, with a baseline phase."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as `python bench/torture.py`

from tests.support.torture import Plan, torture, write_grid  # noqa: E402
from tests.support.torture_checks import LAUNCHER, RUN, RUN_TERM, WORKER, Report  # noqa: E402


# -- the bench --------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=24, help="runs in the study (seeds of one tiny model)")
    p.add_argument("--workers", type=int, default=3, help="worker processes at once (one CPU slot each)")
    p.add_argument("--worker-kills", type=int, default=6, help="workers killed (SIGKILL) in the worker phase")
    p.add_argument("--run-kills", type=int, default=8, help="run processes killed (SIGKILL) in the run phase")
    p.add_argument("--term-kills", type=int, default=2, help="run processes sent SIGTERM in the run phase, "
                   "between the SIGKILLs (as `kill PID` or earlyoom's first try)")
    p.add_argument("--launcher-kills", type=int, default=2, help="warm launchers killed (SIGKILL) in the run "
                   "phase, each under a run in its last epoch")
    p.add_argument("--lease", type=float, default=3.0, help="the workers' --lease, seconds")
    p.add_argument("--train", type=int, default=300, help="source training sentences per run")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=7, help="of the victims and the times between kills")
    return p.parse_args(argv)


def spread(kind: str, n: int, among: list[str]) -> list[str]:
    """``among`` with ``n`` kills of ``kind`` spread evenly between its kills."""
    out, step = list(among), len(among) / (n + 1)
    for i in range(n):
        out.insert(round((i + 1) * step) + i, kind)
    return out


def main(argv: list[str] | None = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    args = parse_args(argv)
    console = Console() if sys.stdout.isatty() else Console(width=160)
    os.environ.setdefault("XLTUI_DATA", str(REPO.parent / "shared" / "data"))
    phases = {
        "baseline": (),
        "kill workers": (WORKER,) * args.worker_kills,
        "kill runs": tuple(spread(LAUNCHER, args.launcher_kills,
                                             spread(RUN_TERM, args.term_kills, [RUN] * args.run_kills))),
    }
    reports: dict[str, Report] = {}
    with tempfile.TemporaryDirectory(prefix="xltui-bench-torture-") as tmp:
        root = Path(tmp)
        os.environ["XLTUI_CACHE"] = str(root / "cache")
        for i, (name, kills) in enumerate(phases.items()):
            plan = Plan(runs=args.runs, workers=args.workers, kills=kills, lease_s=args.lease,
                        train=args.train, epochs=args.epochs, seed=args.seed)
            if i == 0:  # fill the tokenisation cache first, so the baseline does not pay for it alone
                subprocess.run([sys.executable, "-m", "xltui.cli", "grid", "validate", str(write_grid(root, plan))],
                               cwd=REPO, capture_output=True)
            console.print(f"[bold]{name}[/]: {args.runs} runs, {args.workers} workers, {len(kills)} kills")
            reports[name] = torture(root / f"phase-{i}", plan, notify=lambda m: console.print(f"  {m}"))
    base = next(iter(reports.values()))
    table = Table(title=f"{args.runs} tiny runs, {args.workers} workers (warm, --lease {args.lease:g}), kills spread over "
                        "the study's progress, `xltui status` every second", title_justify="left")
    for col in ("phase", "workers killed", "runs KILLed", "runs TERMed", "launchers killed", "runs ok", "attempts",
                "extra", "minutes", "× baseline", "status polls", "slowest poll s", "problems"):
        table.add_column(col, justify="left" if col == "phase" else "right", no_wrap=col == "phase")
    for name, r in reports.items():
        table.add_row(name, *(str(r.count(kind)) for kind in (WORKER, RUN, RUN_TERM, LAUNCHER)),
                      f"{r.succeeded}/{r.runs}", str(r.attempts), f"{r.attempts - base.attempts:+d}",
                      f"{r.wall_s / 60:.2f}", f"{r.wall_s / base.wall_s:.2f}", str(r.polls), f"{r.poll_max_s:.2f}",
                      str(len(r.problems)))
    console.print(table)
    for name, r in reports.items():
        if r.killed_attempts:
            console.print(f"{name}: the attempts hit — "
                          + ", ".join(f"{n} {how}" for how, n in r.killed_attempts.items()))
        for error, n in Counter(r.signal_errors).most_common():
            console.print(f"  {n}× recorded as {error!r}", markup=False)
        for p in r.problems:
            console.print(Text.assemble(("problem", "red"), f" ({name}): {p}"), soft_wrap=True)
    console.print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
