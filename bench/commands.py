"""How long do the commands people wait on take, next to a bare interpreter?

Each command runs in a fresh interpreter, as a user's shell starts it, --repeats times;
the table shows the median and fastest wall time and the ratio to ``python -c pass``
measured in the same run (absolute seconds drift on shared machines; the ratio holds).

Databases: the published MasakhaNER 2.0 per-run results (``xltui import-results``, 896
runs) for ``xltui results``, and a database of --runs queued/finished runs (10,000 by
default, queued through ``engine.runner.plan.queue_runs`` and finished by direct
updates, so building it takes seconds) for ``xltui status`` and ``xltui grid show``.

``python bench/commands.py [--repeats 5] [--runs 10000]``
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

from fixtures import build_big_db  # bench/ is sys.path[0] when run as a script
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("XLTUI_DATA", REPO.parent / "shared" / "data")).resolve()
PUBLISHED = DATA / "results" / "masakhaner2_baselines.csv"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--runs", type=int, default=10_000)
    return p.parse_args(argv)


def timed(cmd: list[str], repeats: int, env: dict[str, str]) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        out.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return out


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    console = Console()
    env = dict(os.environ, XLTUI_DATA=str(DATA))
    # a user's shell caches bytecode; some sandboxes set this and every run recompiles our modules (~40 ms)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    xl = [sys.executable, "-m", "xltui.cli"]
    with tempfile.TemporaryDirectory(prefix="xltui-bench-commands-") as tmp:
        published, big = Path(tmp) / "published.db", Path(tmp) / "big.db"
        subprocess.run([*xl, "import-results", str(PUBLISHED), "--db", str(published)], cwd=REPO, env=env,
                       check=True, capture_output=True)
        started = time.perf_counter()
        build_big_db(big, args.runs)
        console.print(f"built a {args.runs:,}-run database in {time.perf_counter() - started:.1f} s")
        study = "masakhaner2_baselines"
        commands = [
            ("python -c pass (baseline)", [sys.executable, "-c", "pass"]),
            ("xltui --help", [*xl, "--help"]),
            ("xltui results (896 runs)", [*xl, "results", study, "--db", str(published)]),
            ("xltui results --compare", [*xl, "results", study, "--db", str(published), "--compare",
                                         "xlmrlarge:xlmrbase"]),
            ("xltui results --format csv", [*xl, "results", study, "--db", str(published), "--format", "csv"]),
            (f"xltui status ({args.runs:,} runs)", [*xl, "status", "--db", str(big)]),
            (f"xltui grid show paper.yaml ({args.runs:,}-run db)",
             [*xl, "grid", "show", "configs/paper.yaml", "--db", str(big)]),
        ]
        rows = [(name, timed(cmd, args.repeats, env)) for name, cmd in commands]
    base = statistics.median(rows[0][1])
    table = Table(title=f"Command wall time, {args.repeats} repeats each (fresh interpreter every time)",
                  title_justify="left")
    for col in ("command", "median s", "fastest s", "× python -c pass"):
        table.add_column(col, justify="left" if col == "command" else "right")
    for name, times in rows:
        med = statistics.median(times)
        table.add_row(name, f"{med:.2f}", f"{min(times):.2f}", f"{med / base:.1f}")
    console.print(table)
    console.print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average "
                  f"{os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
