"""Time per optimisation step and peak memory: MAD-X task-adapter training vs full fine-tuning.

Same encoder, same batch (real MasakhaNER English sentences, padded to --max-length so
every step sees the same shape), same optimiser (engine.training.loop.make_optimizer over the
trainable parameters). MAD-X is the engine's own set-up (engine.training.madx.build_task_model:
frozen base, source language adapter stacked under a fresh task adapter; the language
adapter comes from one MLM step in the parent process, its cost per step does not
depend on its training).
Each variant runs in its own process so peak memory is its own: peak RSS on the CPU,
torch.cuda.max_memory_allocated on a GPU. Full fine-tuning is the baseline; no timing
is asserted. Run: python bench/step.py [--device cuda] [--model DIR] [--precision bf16]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
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


def sentences(n: int):
    from engine.data.catalog import data_root
    from engine.data.conll import read_conll

    return read_conll(data_root() / "ner/en/train.txt", limit=n)


def language_adapter(args: argparse.Namespace, out: Path) -> Path:
    """Trained in the parent, so its MLM head never counts towards a child's peak memory."""
    from engine.spec import LangAdapterParams, LangAdapterSpec
    from engine.training.madx import train_language_adapter

    spec = LangAdapterSpec(model=args.model, language="en", text="bench", seed=1,
                           adapter=LangAdapterParams(mlm_steps=1, batch_size=8, max_length=32))
    return train_language_adapter(spec, [s.tokens for s in sentences(8)], out / "en", "cpu", log=lambda _: None)


def build(variant: str, args: argparse.Namespace):
    """(model, batch) for one variant; the model is in training mode with only its trainable params free."""
    import torch
    from transformers import AutoTokenizer, DataCollatorForTokenClassification

    from engine.data.labels import LabelMap
    from engine.training.madx import base_path, build_task_model
    from engine.training.modelzoo import load_token_classifier
    from engine.training.tagging_data import encode

    batch_sentences = sentences(args.batch_size)
    labels = LabelMap.from_tags(t for s in batch_sentences for t in s.tags)
    if variant == "full":
        tokenizer, model = load_token_classifier(args.model, list(labels.labels), max_length=args.max_length)
    else:
        tokenizer = AutoTokenizer.from_pretrained(base_path(args.model))
        model = build_task_model(args.model, list(labels.labels), {"en": Path(args.adapter)}, "en")
    collate = DataCollatorForTokenClassification(tokenizer, padding="max_length", max_length=args.max_length)
    batch = collate(encode(tokenizer, batch_sentences, labels, args.max_length)[0].features)
    torch.manual_seed(0)
    return model.train(), batch


def measure(args: argparse.Namespace) -> dict:
    """Runs in the child process: one variant's step time, trainable share and peak memory."""
    import torch

    from engine.spec import TrainParams
    from engine.training.loop import AUTOCAST, make_optimizer

    device = args.device
    model, batch = build(args.variant, args)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    model.to(device)
    batch = {k: v.to(device) for k, v in batch.items()}
    optimizer = make_optimizer(model, TrainParams(lr=1e-4))
    dtype = AUTOCAST[args.precision] if device.startswith("cuda") else None
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(args.steps + 2):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device_type=device.split(":")[0], dtype=dtype, enabled=dtype is not None):
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        if i >= 2:
            times.append(time.perf_counter() - start)
    params = list(model.parameters())
    return dict(variant=args.variant, step_s=sorted(times)[len(times) // 2],
                trainable=sum(p.numel() for p in params if p.requires_grad), total=sum(p.numel() for p in params),
                peak_bytes=int(torch.cuda.max_memory_allocated()) if cuda
                else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                peak_kind="GPU allocated" if cuda else "process RSS", rss_at_start=rss_before)


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
        adapter = language_adapter(args, Path(tmp))
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
