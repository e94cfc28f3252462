"""Length-grouped batches with dynamic padding vs padding every sentence to max_length,
and the tokenised-data cache vs tokenising again.

Training part: the same sentences (real MasakhaNER English train), the same model
(the real MiniLM encoder by default) and the same optimiser take --steps steps three
ways: every sentence padded to --max-length (the baseline), random batches padded to
their longest sentence, and length-grouped batches (engine.training.tagging_data.train_loader).
The table reports real (unpadded) tokens per second, padded positions per batch and
the speed-up over the baseline. Cache part: every split a NER grid reads (English
train/dev, four targets' test) tokenised cold, then read back from the cache.
No timing is asserted anywhere; run: python bench/padding.py
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table
from transformers import DataCollatorForTokenClassification

from engine.data.catalog import data_root
from engine.data.conll import read_conll
from engine.data.labels import LabelMap
from engine.training.modelzoo import load_token_classifier, minilm_dir
from engine.training.tagging_data import encode, train_loader
from engine.training.token_cache import cached_tokenize

TARGETS = ("swa", "yor", "hau", "am")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(minilm_dir()), help="model directory (default: MiniLM)")
    p.add_argument("--sentences", type=int, default=1024, help="English training sentences")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--steps", type=int, default=12, help="timed optimisation steps per variant")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return p.parse_args()


def timed_steps(model, loader, steps: int, device: str) -> tuple[float, int, int]:
    """(seconds, real tokens, padded positions) over ``steps`` optimisation steps, after one warm-up."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    batches = iter(loader)
    seconds = real = positions = 0
    for i in range(steps + 1):
        batch = {k: v.to(device) for k, v in next(batches).items()}
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if i:  # the first step warms up allocators and kernels
            seconds += time.perf_counter() - start
            real += int(batch["attention_mask"].sum())
            positions += batch["input_ids"].numel()
    return seconds, real, positions


def training_table(args: argparse.Namespace) -> Table:
    sentences = read_conll(data_root() / "ner/en/train.txt", limit=args.sentences)
    labels = LabelMap.from_tags(t for s in sentences for t in s.tags)
    tokenizer, model = load_token_classifier(args.model, list(labels.labels), max_length=args.max_length)
    model.to(args.device).train()
    features = encode(tokenizer, sentences, labels, args.max_length)[0].features
    variants = {
        f"fixed padding to {args.max_length} (baseline)":
            (DataCollatorForTokenClassification(tokenizer, padding="max_length", max_length=args.max_length), False),
        "dynamic padding, random batches": (DataCollatorForTokenClassification(tokenizer), False),
        "dynamic padding, length-grouped": (DataCollatorForTokenClassification(tokenizer), True),
    }
    name = "all-MiniLM-L6-v2" if Path(args.model) == minilm_dir() else Path(args.model).name
    table = Table(title=f"training steps: {name}, batch {args.batch_size}, {args.steps} steps, "
                        f"{args.device}")
    for col in ("variant", "real tokens/s", "positions/batch", "padding", "speed-up"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    base = None
    for name, (collate, grouped) in variants.items():
        loader = train_loader(features, args.batch_size, collate, torch.Generator().manual_seed(1), grouped)
        seconds, real, positions = timed_steps(model, loader, args.steps, args.device)
        rate = real / seconds
        base = base or rate
        table.add_row(name, f"{rate:,.0f}", f"{positions / args.steps:,.0f}", f"{1 - real / positions:.0%}",
                      f"{rate / base:.2f}x")
    return table


def cache_table(args: argparse.Namespace) -> Table:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    root = data_root() / "ner"
    files = [root / "en/train.txt", root / "en/dev.txt", *(root / lang / "test.txt" for lang in TARGETS)]
    splits = [[s.tokens for s in read_conll(f)] for f in files]
    n = sum(len(s) for s in splits)
    table = Table(title=f"tokenising a NER run's splits ({n:,} sentences, {len(files)} files)")
    for col in ("variant", "seconds", "speed-up"):
        table.add_column(col, justify="left" if col == "variant" else "right")
    with tempfile.TemporaryDirectory() as tmp:
        timings = {}
        for name in ("no cache (tokenise, baseline)", "cache hit"):
            start = time.perf_counter()
            hits = [cached_tokenize(tokenizer, words, args.max_length, root=Path(tmp))[1] for words in splits]
            timings[name] = time.perf_counter() - start
            assert all(hits) == (name == "cache hit"), hits
    base = timings["no cache (tokenise, baseline)"]
    for name, seconds in timings.items():
        table.add_row(name, f"{seconds:.2f}", f"{base / seconds:.1f}x")
    return table


def main() -> None:
    args = parse_args()
    torch.manual_seed(0)
    console = Console()
    console.print(training_table(args))
    console.print(cache_table(args))
    console.print(f"[dim]python bench/padding.py --sentences {args.sentences} --batch-size {args.batch_size} "
                  f"--max-length {args.max_length} --steps {args.steps} --device {args.device}[/]")


if __name__ == "__main__":
    main()
