"""The GPU box at full use: step time, tokens/s, MFU and peak memory per model, method and precision;
then the packing curve (1, 2, 4, 8 real run processes side by side on one GPU).

Part 1, per variant (a child process each, so peak memory is its own): random-init models of
the real sizes (bench/gpu_models.py: XLM-R-base config with its 250k vocabulary, mBERT-base,
MAD-X language + task adapter on the XLM-R config), batch 32 × 128 tokens of real MasakhaNER
English sentences padded to the length, fp32 / bf16 / fp16 (with loss scaling). Tokens/s counts
every position the GPU computes (batch × length); MFU = 6 × parameters × tokens/s ÷ the GPU's
dense peak (engine.training.throughput). For MAD-X 6·N overcounts: frozen weights get no
weight gradients, so its MFU is an upper bound. The baseline is full fine-tuning of XLM-R in
fp32, from the same run.

Part 2, the packing curve: for N in --pack, a fresh database with N runs of the paper's shape
(XLM-R base, full fine-tuning, batch 32 × 128, bf16, real en → swa MasakhaNER data, shortened
by --train-sentences) and one real `xltui worker --gpus 0 --runs-per-gpu N`; each run is its own
process. Study throughput (runs/hour from the first start to the last finish; summed tokens/s
of training steps), per-run slowdown against N = 1 and each level's F1 (seed 1's stays, up to
GPU non-determinism). No network: the models are built here.

    python bench/gpu.py                 # on a GPU
    python bench/gpu.py --tiny          # rehearsal on a CPU: tiny models, fp32, fake GPUs for packing
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as `python bench/gpu.py`

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

GIB = 1024 ** 3
VARIANTS = (("xlmr-base", "full"), ("xlmr-base", "madx"), ("mbert-base", "full"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tiny", action="store_true", help="rehearse on a CPU: tiny models, fp32, fake GPUs")
    p.add_argument("--precisions", default=None, help="comma-separated (default fp32,bf16,fp16; --tiny: fp32)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--steps", type=int, default=20, help="timed steps per variant, after 3 warm-up steps")
    p.add_argument("--pack", default="1,2,4,8", help="runs side by side on one GPU, per level ('' skips)")
    p.add_argument("--train-sentences", type=int, default=2000, help="training sentences per packed run")
    p.add_argument("--work", type=Path, default=None, help="where models and databases go (default: a temp dir)")
    p.add_argument("--json", type=Path, default=None, help="also write every figure here")
    p.add_argument("--child", help=argparse.SUPPRESS)  # one variant, as JSON, in a child process
    args = p.parse_args(argv)
    args.precisions = (args.precisions or ("fp32" if args.tiny else "fp32,bf16,fp16")).split(",")
    return args


def model_name(kind: str, tiny: bool) -> str:
    return kind.replace("-base", "-tiny") if tiny else kind


# -- part 1: one step per variant ----------------------------------------------------------------
def steps_table(args: argparse.Namespace, work: Path, device: str) -> tuple[Table, list[dict]]:
    from bench.gpu_models import language_adapter, model_dir
    from engine.training.throughput import model_flops_utilisation, peak_flops

    rows = []
    adapter = language_adapter(model_dir(model_name("xlmr-base", args.tiny), work), work / "adapter", device)
    for kind, method in VARIANTS:
        model = model_dir(model_name(kind, args.tiny), work)
        for precision in args.precisions:
            job = dict(model=str(model), method=method, precision=precision, device=device,
                       batch_size=args.batch_size, max_length=args.max_length, steps=args.steps,
                       adapter=str(adapter) if method == "madx" else None)
            out = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)], capture_output=True,
                                 text=True, check=False)
            if out.returncode:
                rows.append(dict(job, kind=kind, error=(out.stderr.strip().splitlines() or ["?"])[-1]))
                continue
            r = dict(job, kind=kind, **json.loads(out.stdout.strip().splitlines()[-1]))
            r["tokens_per_s"] = r["tokens"] / r["step_s"]
            r["mfu"] = model_flops_utilisation(r["n_params"], r["tokens_per_s"],
                                               peak_flops(r["gpu"] or "", precision))
            rows.append(r)
    base = next((r for r in rows if "error" not in r), None)
    gpu = base["gpu"] if base and base["gpu"] else "CPU"
    table = Table(title=f"one optimisation step, batch {args.batch_size} × {args.max_length} tokens, {gpu} "
                        f"(baseline: the first row)")
    for col in ("model", "method", "precision", "trainable / params", "step", "tokens/s", "vs baseline",
                "MFU", "peak allocated", "peak reserved"):
        table.add_column(col, justify="left" if col in ("model", "method", "precision") else "right")
    for r in rows:
        if "error" in r:
            table.add_row(model_name(r["kind"], args.tiny), r["method"], r["precision"], "", f"failed: {r['error'][:60]}", *[""] * 5)
            continue
        mem = (lambda b: "—" if b is None else f"{b / GIB:.2f} GiB")
        table.add_row(model_name(r["kind"], args.tiny), "MAD-X" if r["method"] == "madx" else "full FT", r["precision"],
                      f"{r['trainable'] / 1e6:.1f}M / {r['n_params'] / 1e6:.0f}M", f"{r['step_s'] * 1e3:.1f} ms",
                      f"{r['tokens_per_s']:,.0f}", f"{r['tokens_per_s'] / base['tokens_per_s']:.2f}x",
                      "—" if r["mfu"] is None else f"{100 * r['mfu']:.1f}%" + ("*" if r["method"] == "madx" else ""),
                      mem(r["peak_allocated"]), mem(r["peak_reserved"]))
    return table, rows


# -- part 2: the packing curve ---------------------------------------------------------------------
GRID = """\
study: pack-{n}
task: ner
source: en
targets: [swa]
data:
  ner: masakhaner
models:
  - {{name: xlmr, model: {model}, method: full, lr: 5.0e-5}}
settings: [zero-shot]
seeds: {seeds}
train: {{batch_size: {batch}, max_length: {length}, epochs: 1, patience: 1, max_train_sentences: {train},
         max_eval_sentences: 500, precision: {precision}}}
"""


def pack_level(n: int, args: argparse.Namespace, work: Path, model: Path, precision: str) -> dict:
    """N runs, one worker with --runs-per-gpu N: wall time, tokens/s and F1 of each run."""
    from sqlmodel import Session, select

    from engine.grid.expand import expand
    from engine.grid.schema import load_grid
    from engine.runner.plan import queue_runs
    from engine.store.db import open_db
    from engine.store.schema import Attempt, Result

    folder = work / f"pack-{n}"
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "experiments.db"
    db.unlink(missing_ok=True)
    grid = folder / "grid.yaml"
    grid.write_text(GRID.format(n=n, model=model, seeds=list(range(1, n + 1)), batch=args.batch_size,
                                length=args.max_length, train=args.train_sentences, precision=precision))
    env = dict(os.environ, XLTUI_ARTIFACTS=str(folder / "artifacts"))
    if args.tiny:
        env["XLTUI_TEST_GPUS"] = "16"  # the CPU rehearsal: the same worker path on a fake GPU
    spec = load_grid(grid)
    queue_runs(open_db(str(db)), spec.study, expand(spec))
    cli = [sys.executable, "-m", "xltui.cli"]
    started = time.time()
    out = subprocess.run([*cli, "worker", "--db", str(db), "--gpus", "0", "--runs-per-gpu", str(n),
                          "--exit-when-idle", "--poll", "0.2"], capture_output=True, text=True, env=env, cwd=REPO)
    elapsed = time.time() - started
    if out.returncode:
        raise SystemExit(f"the worker of level {n} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    engine = open_db(str(db), create=False)
    with Session(engine) as s:
        attempts = s.exec(select(Attempt)).all()
        results = s.exec(select(Result.run_id, Result.split, Result.metric, Result.value)).all()
    by_run: dict[int, dict[str, float]] = {}
    for run_id, split, metric, value in results:
        if (split, metric) in (("train", "tokens_per_s"), ("test", "f1"), ("train", "gpu_runs"),
                               ("train", "peak_gpu_bytes")):
            by_run.setdefault(run_id, {})[f"{split}_{metric}"] = value
    ok = [a for a in attempts if a.outcome == "succeeded"]
    wall = max(a.finished_at for a in ok) - min(a.started_at for a in ok)
    tps = [r["train_tokens_per_s"] for r in by_run.values() if "train_tokens_per_s" in r]
    first = min(by_run)
    return dict(n=n, runs=len(ok), attempts=len(attempts), wall_s=wall, worker_s=elapsed,
                runs_per_hour=3600 * len(ok) / wall, tokens_per_s_each=sum(tps) / len(tps),
                tokens_per_s_sum=sum(tps), f1_seed1=by_run[first].get("test_f1"),
                f1_mean=sum(r.get("test_f1", 0.0) for r in by_run.values()) / len(by_run),
                gpu_runs=max(r.get("train_gpu_runs", 1.0) for r in by_run.values()),
                peak=max((r.get("train_peak_gpu_bytes", 0.0) for r in by_run.values()), default=0.0))


def pack_table(args: argparse.Namespace, work: Path) -> tuple[Table, list[dict]]:
    from bench.gpu_models import model_dir

    precision = "fp32" if args.tiny else "bf16"
    model = model_dir(model_name("xlmr-base", args.tiny), work)
    levels = [pack_level(int(n), args, work, model, precision) for n in args.pack.split(",") if n.strip()]
    base = levels[0]
    table = Table(title=f"packing: runs side by side on one GPU ({model.name}, full FT, {precision}, "
                        f"{args.train_sentences} training sentences each; baseline: one run per GPU)")
    for col in ("runs per GPU", "runs", "wall", "runs/hour", "vs 1 per GPU", "tokens/s per run",
                "per-run slowdown", "tokens/s summed", "peak per run", "F1 seed 1", "F1 mean"):
        table.add_column(col, justify="right")
    for r in levels:
        table.add_row(str(r["n"]), f"{r['runs']}/{r['attempts']}", f"{r['wall_s']:.0f} s", f"{r['runs_per_hour']:.0f}",
                      f"{r['runs_per_hour'] / base['runs_per_hour']:.2f}x", f"{r['tokens_per_s_each']:,.0f}",
                      f"{base['tokens_per_s_each'] / r['tokens_per_s_each']:.2f}x", f"{r['tokens_per_s_sum']:,.0f}",
                      f"{r['peak'] / GIB:.1f} GiB" if r["peak"] else "—",
                      "—" if r["f1_seed1"] is None else f"{100 * r['f1_seed1']:.1f}", f"{100 * r['f1_mean']:.1f}")
    return table, levels


def main() -> None:
    args = parse_args()
    if args.child:
        from bench.gpu_models import measure

        job = json.loads(args.child)
        print(json.dumps(measure(Path(job["model"]), job["method"], job["precision"], job["device"],
                                 job["batch_size"], job["max_length"], job["steps"],
                                 Path(job["adapter"]) if job["adapter"] else None)))
        return
    import torch

    device = "cuda:0" if torch.cuda.is_available() and not args.tiny else "cpu"
    if device == "cpu" and not args.tiny:
        sys.exit("no CUDA GPU visible: run on a GPU machine, or rehearse with --tiny")
    console = Console(width=160)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        table, steps = steps_table(args, work, device)
        console.print(table)
        console.print("* MAD-X: 6 × all parameters counts weight gradients its frozen layers never compute: "
                      "an upper bound")
        packing: list[dict] = []
        if args.pack.strip():
            table, packing = pack_table(args, work)
            console.print(table)
    if args.json:
        args.json.write_text(json.dumps(dict(steps=steps, packing=packing), indent=1))
    print("python bench/gpu.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
