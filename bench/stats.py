"""What the reviewer-grade statistics cost: sentence-level bootstrap, ASO, and `xltui results` with them.

1. The paired bootstrap over test sentences (engine.analysis.sentence_tests) on the first
   1,000 real Swahili MasakhaNER test sentences, two systems' predictions (gold with 5 % and
   10 % of tags replaced), 10,000 resamples — beside its baseline, the plain way: resample
   the sentences and call seqeval's f1_score on every resample (timed on --naive resamples
   and scaled to 10,000).
2. ASO (deepsig.aso, 1,000 iterations) on one per-language comparison (5 vs 5 seeds) and on
   one pooled comparison (20 languages × 5 seeds), with deepsig's import time apart.
3. `xltui results` on the 896 published runs in a fresh interpreter: plain (today's
   figure, the baseline), with --compare (every new column; no predictions to test),
   with --compare --per-language, and with --aso — beside `python -c pass`.

``python bench/stats.py [--repeats 5] [--naive 200]``
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

import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("XLTUI_DATA", REPO.parent / "shared" / "data")).resolve()
os.environ["XLTUI_DATA"] = str(DATA)
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--naive", type=int, default=200, help="resamples of the seqeval-per-resample baseline")
    return p.parse_args(argv)


def median_time(fn, repeats: int) -> float:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return statistics.median(out)


def bootstrap_rows(repeats: int, naive: int) -> list[tuple[str, float, str]]:
    from seqeval.metrics import f1_score
    from seqeval.scheme import IOB2

    from engine.analysis.sentence_tests import ner_counts, paired_bootstrap
    from engine.data.catalog import task_files
    from engine.data.conll import read_conll

    gold = [list(s.tags) for s in read_conll(task_files("ner", "masakhaner", "swa").test, limit=1000)]
    rng = np.random.default_rng(0)
    noisy = lambda rate: [[TAGS[rng.integers(6)] if rng.random() < rate else t for t in s] for s in gold]
    a, b = noisy(0.05), noisy(0.10)
    ca, cb = ner_counts(gold, a), ner_counts(gold, b)
    counts_s = median_time(lambda: (ner_counts(gold, a), ner_counts(gold, b)), repeats)
    ours = median_time(lambda: paired_bootstrap([(ca, cb)], resamples=10_000, seed=0), repeats)

    def plain() -> None:
        r = np.random.default_rng(0)
        for _ in range(naive):
            idx = r.integers(0, len(gold), len(gold))
            g = [gold[i] for i in idx]
            f1_score(g, [a[i] for i in idx], mode="strict", scheme=IOB2)
            f1_score(g, [b[i] for i in idx], mode="strict", scheme=IOB2)

    loop = median_time(plain, 1) * 10_000 / naive
    n = len(gold)
    return [(f"per-sentence counts of 2 systems ({n} sentences)", counts_s, "once per predictions file"),
            (f"paired bootstrap, 10,000 resamples × {n} sentences", ours, "vectorised"),
            (f"  baseline: seqeval per resample (×10,000 / {naive})", loop, f"{loop / ours:.0f}× slower")]


def aso_rows(repeats: int) -> list[tuple[str, float, str]]:
    start = time.perf_counter()
    from deepsig import aso
    imported = time.perf_counter() - start
    rng = np.random.default_rng(1)
    lang = lambda: aso(rng.normal(0.8, 0.01, 5), rng.normal(0.79, 0.01, 5), num_bootstrap_iterations=1000,
                       show_progress=False, seed=0)
    pooled = lambda: aso(rng.normal(0.01, 0.02, 100), rng.normal(0.0, 0.02, 100), num_bootstrap_iterations=1000,
                         show_progress=False, seed=0)
    return [("import deepsig", imported, "once, only with --aso"),
            ("ASO, one language (5 vs 5 seeds, 1,000 iterations)", median_time(lang, repeats), ""),
            ("ASO, pooled (100 vs 100 scores, 1,000 iterations)", median_time(pooled, repeats), "")]


def command_rows(repeats: int) -> list[tuple[str, float, str]]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's shell caches bytecode
    xl = [sys.executable, "-m", "xltui.cli"]

    def timed(cmd: list[str], n: int) -> float:
        def once() -> None:
            proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
            if proc.returncode:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
        return median_time(once, n)

    with tempfile.TemporaryDirectory(prefix="xltui-bench-stats-") as tmp:
        db = str(Path(tmp) / "published.db")
        subprocess.run([*xl, "import-results", str(DATA / "results" / "masakhaner2_baselines.csv"), "--db", db],
                       cwd=REPO, env=env, check=True, capture_output=True)
        res = [*xl, "results", "masakhaner2_baselines", "--db", db]
        cmp_ = [*res, "--compare", "xlmrlarge:xlmrbase"]
        rows = [("python -c pass", timed([sys.executable, "-c", "pass"], repeats), "interpreter floor"),
                ("xltui results (baseline: score tables only)", timed(res, repeats), "")]
        rows += [("xltui results --compare (all new columns)", timed(cmp_, repeats), ""),
                 ("xltui results --compare --per-language", timed([*cmp_, "--per-language"], repeats), ""),
                 ("xltui results --compare --aso (1 pooled row)", timed([*cmp_, "--aso"], 1), "1 repeat"),
                 ("xltui results --compare --per-language --aso", timed([*cmp_, "--per-language", "--aso"], 1),
                  "1 repeat; 1 + 20 ASO tests")]
    base = rows[1][1]
    return [(name, s, note or f"{s / base:.2f}× the plain command") for name, s, note in rows]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    console = Console()
    table = Table(title=f"Statistics cost (medians of {args.repeats} unless noted)", title_justify="left")
    for col in ("what", "seconds", "note"):
        table.add_column(col, justify="right" if col == "seconds" else "left")
    for section in (bootstrap_rows(args.repeats, args.naive), aso_rows(args.repeats), command_rows(args.repeats)):
        for name, seconds, note in section:
            table.add_row(name, f"{seconds:.3f}", note)
        table.add_section()
    console.print(table)
    console.print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average "
                  f"{os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
