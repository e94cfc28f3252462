"""How long does checking a grid's data take, cold (nothing scanned yet) and warm (scans cached)?

`xltui grid validate` parses every line of every data file the grid's runs read
(engine.grid.file_checks); the scans are cached by content hash under $XLTUI_CACHE. Each
variant runs in a fresh interpreter, --repeats times:

- baseline: what validation did before the data files were parsed (schema, existence of
  the split files, expansion into runs), measured in the same run;
- cold: the whole command with an empty cache (every file parsed);
- warm: the whole command again (every file read once to hash it, nothing parsed).

``python bench/validate.py [--grid configs/paper.yaml] [--repeats 5]``
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

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("XLTUI_DATA", REPO.parent / "shared" / "data")).resolve()

BASELINE = """
import sys
from engine.grid.expand import expand
from engine.grid.schema import load_grid
print(len(expand(load_grid(sys.argv[1]))))
"""


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return took


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", default="configs/paper.yaml")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    env = dict(os.environ, XLTUI_DATA=str(DATA))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's shell caches bytecode
    validate = [sys.executable, "-m", "xltui.cli", "grid", "validate", args.grid]
    times: dict[str, list[float]] = {"baseline": [], "cold": [], "warm": []}
    with tempfile.TemporaryDirectory(prefix="xltui-bench-validate-") as tmp:
        timed(validate, dict(env, XLTUI_CACHE=f"{tmp}/warmup"))  # bytecode and the page cache, for every variant
        for i in range(args.repeats):
            cache = dict(env, XLTUI_CACHE=f"{tmp}/cache{i}")
            times["baseline"].append(timed([sys.executable, "-c", BASELINE, args.grid], cache))
            times["cold"].append(timed(validate, cache))
            times["warm"].append(timed(validate, cache))
    table = Table(title=f"xltui grid validate {args.grid} ({args.repeats} repeats, fresh interpreter each)")
    for col in ("variant", "median s", "fastest s", "× baseline"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    base = statistics.median(times["baseline"])
    for name, label in (("baseline", "baseline: schema + files exist + expand"),
                        ("cold", "validate, cold (every file parsed)"), ("warm", "validate, warm (scans cached)")):
        med = statistics.median(times[name])
        table.add_row(label, f"{med:.2f}", f"{min(times[name]):.2f}", f"{med / base:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
