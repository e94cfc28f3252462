"""Time per optimisation step and peak memory: MAD-X task-adapter training vs full fine-tuning.

Same encoder, same batch (real MasakhaNER English sentences, padded to --max-length so
every step sees the same shape), same optimiser (engine.training.loop.make_optimizer over the
trainable parameters). MAD-X is the engine's own set-up (engine.training.madx.build_task_model:
frozen base, source language adapter stacked under a fresh task adapter; the language
adapter comes from one MLM step in the parent process, its cost per step does not
depend on its training).
Each variant runs in its own process so peak memory is its own: peak RSS on the CPU,
torch.cuda.max_memory_allocated on a GPU. Full fine-tuning is the baseline; no timing
is asserted (the step itself: bench/gpu_models.py). Run: python bench/step.py [--device cuda] [--model DIR] [--precision bf16]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

VARIANTS = ("full", "madx")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="minilm", help="preset, local directory or hub id (default: MiniLM)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--steps", type=int, default=10, help="timed steps (after 2 warm-up steps)")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"), help="autocast dtype on CUDA")
    p.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # a child process's own variant
    p.add_argument("--adapter", help=argparse.SUPPRESS)  # the language adapter the parent trained
    return p.parse_args(argv)


def measure(args: argparse.Namespace) -> dict:
    """Runs in the child process: one variant's step time, trainable share and peak memory
    (bench/gpu_models.py's step, autocast only on CUDA)."""
    from gpu_models import measure as measure_step  # bench/ is sys.path[0] when run as a script

    cuda = args.device.startswith("cuda")
    r = measure_step(args.model, args.variant, args.precision if cuda else "fp32", args.device, args.batch_size,
                     args.max_length, args.steps, Path(args.adapter) if args.variant == "madx" else None, warmup=2)
    return dict(variant=args.variant, step_s=r["step_s"], trainable=r["trainable"], total=r["n_params"],
                peak_bytes=r["peak_allocated"] if cuda else r["rss"],
                peak_kind="GPU allocated" if cuda else "process RSS")


def main() -> None:
    args = parse_args()
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.variant:
        print(json.dumps(measure(args)))
        return
    flags = ["--model", args.model, "--batch-size", str(args.batch_size), "--max-length", str(args.max_length),
             "--steps", str(args.steps), "--device", args.device, "--precision", args.precision]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        from gpu_models import language_adapter

        adapter = language_adapter(args.model, Path(tmp), "cpu")
        for variant in VARIANTS:
            out = subprocess.run([sys.executable, __file__, *flags, "--variant", variant, "--adapter", str(adapter)],
                                 capture_output=True, text=True, check=False)
            if out.returncode:
                sys.exit(f"{variant} failed:\n{out.stderr[-3000:]}")
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = rows[0]
    table = Table(title=f"one optimisation step: {args.model}, batch {args.batch_size} x {args.max_length} tokens, "
                        f"{args.device}" + (f", {args.precision}" if args.device.startswith("cuda") else ""))
    for col in ("method", "trainable params", "median step", "speed-up", f"peak ({base['peak_kind']})",
                "memory vs full"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for r in rows:
        table.add_row("full fine-tuning (baseline)" if r["variant"] == "full" else "MAD-X task adapter",
                      f"{r['trainable'] / 1e6:.2f}M of {r['total'] / 1e6:.1f}M", f"{r['step_s'] * 1000:.0f} ms",
                      f"{base['step_s'] / r['step_s']:.2f}x", f"{r['peak_bytes'] / 2**20:,.0f} MiB",
                      f"{r['peak_bytes'] / base['peak_bytes']:.2f}x")
    Console().print(table)
    print("python bench/step.py " + " ".join(flags))


if __name__ == "__main__":
    main()
