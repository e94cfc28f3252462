"""xltui's training loop against Hugging Face ``Trainer``: seconds per step and dev F1,
side by side, on the same model, data, batches and optimiser settings.

* ``Trainer``: what a user would write instead — ``transformers.Trainer`` with
  ``DataCollatorForTokenClassification``, AdamW, linear warm-up/decay, gradient
  clipping, random batches, in a fresh process with the machine's default environment.
* ``xltui random`` / ``xltui grouped``: the same settings as a grid, executed by a real
  ``xltui worker --cpu`` with xltui's defaults (its CPU slots, the warm launcher, a run
  process per run; ``--cpu-slots N`` passes the flag), one seed at a time so each run is
  alone on the machine as Trainer's is, with ``group_by_length: false`` (the batches a
  Trainer user gets) and with xltui's default length-grouped batches.

The loops take turns seed by seed (Trainer seed 1, xltui seed 1, Trainer seed 2, …), so a
machine whose load changes meanwhile weighs on every loop alike. The threads column is
what each side trained with (Trainer: torch's default; xltui: what its runs recorded).

Both sides read the same English MasakhaNER sentences through the engine's reader and
tokenise them the same way (each word's label on its first subword), and both are scored
by the engine's dev evaluation (seqeval strict IOB2 F1) after every epoch. Seconds per
step exclude those dev evaluations on both sides: Trainer's from its callbacks
(epoch begin to the epoch's last step), xltui's from the run's stored metric points
(the loop's start, each epoch's last loss point, each dev score). No timing is asserted.

Padded positions per step are printed too (seconds per 1,000 of them compare the loops at
equal work when their random batches pad differently).

``python bench/vs_trainer.py [--model minilm] [--sentences 600] [--epochs 2] [--seeds 1,2,3] [--cpu-slots N]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GRID = """\
study: vs-trainer
task: ner
source: en
targets: [swa]
data: {{ner: masakhaner}}
models:
  - {{name: {model}, model: {model}, method: full, lr: {lr}}}
settings: [zero-shot]
seeds: [{seeds}]
train: {{batch_size: {batch}, max_length: {length}, epochs: {epochs}, patience: {epochs}, warmup_ratio: 0.1,
         weight_decay: 0.01, max_grad_norm: 1.0, max_train_sentences: {sentences},
         max_eval_sentences: {dev}, group_by_length: {grouped}}}
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="minilm", help="preset or local model directory")
    p.add_argument("--sentences", type=int, default=600, help="English training sentences")
    p.add_argument("--dev", type=int, default=300, help="English dev sentences (and Swahili test sentences)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--loops", default="trainer,random,grouped",
                   help="which loops to time (the first is the ratio's baseline)")
    p.add_argument("--cpu-slots", type=int, default=None, help="xltui worker --cpu-slots N (default: xltui's own)")
    p.add_argument("--trainer-child", type=int, help=argparse.SUPPRESS)  # one Trainer run, in its own process
    return p.parse_args(argv)


def english_ner(args: argparse.Namespace) -> tuple:
    """(tokenizer, model, labels, training features) of the first --sentences English sentences,
    read and encoded as the run process reads them (each word's label on its first subword)."""
    from engine.data.catalog import task_files
    from engine.data.conll import read_conll
    from engine.data.labels import LabelMap
    from engine.training.modelzoo import load_token_classifier
    from engine.training.tagging_data import encode

    train = read_conll(task_files("ner", "masakhaner", "en").train, limit=args.sentences)
    labels = LabelMap.from_tags(t for s in train for t in s.tags)
    tokenizer, model = load_token_classifier(args.model, list(labels.labels), max_length=args.max_length)
    return tokenizer, model, labels, encode(tokenizer, train, labels, args.max_length)[0].features


# -- Trainer, in a child process ---------------------------------------------------------------------------
def trainer_child(args: argparse.Namespace, seed: int) -> dict:
    """One Trainer run: prints {"steps", "train_s", "dev_f1": [per epoch]} as JSON."""
    import torch
    import transformers
    from transformers import DataCollatorForTokenClassification, Trainer, TrainerCallback, TrainingArguments

    from engine.data.catalog import task_files
    from engine.data.conll import read_conll
    from engine.training.tagging_data import encode
    from engine.training.zeroshot import evaluate_split

    transformers.logging.set_verbosity_error()
    transformers.set_seed(seed)
    tokenizer, model, labels, features = english_ner(args)
    dev = read_conll(task_files("ner", "masakhaner", "en").dev, limit=args.dev)
    dev_data = encode(tokenizer, dev, labels, args.max_length)[0]
    collator = DataCollatorForTokenClassification(tokenizer)
    padded = [0]

    def counting(batch):  # Trainer's batches only (the dev evaluation has its own collator)
        out = collator(batch)
        padded[0] += out["input_ids"].numel()
        return out

    class Clock(TrainerCallback):
        """Training time without the dev evaluations: each epoch from its start to its last step."""

        def __init__(self) -> None:
            self.train_s, self.dev_f1, self.epoch_t = 0.0, [], 0.0

        def on_epoch_begin(self, *_a, **_k):
            self.epoch_t = time.perf_counter()

        def on_epoch_end(self, *_a, **_k):
            self.train_s += time.perf_counter() - self.epoch_t
            self.dev_f1.append(evaluate_split("ner", model, collator, dev_data, labels, "cpu")["f1"])

    clock = Clock()
    with tempfile.TemporaryDirectory(prefix="xltui-bench-trainer-") as out:
        targs = TrainingArguments(
            output_dir=out, per_device_train_batch_size=args.batch_size, learning_rate=args.lr,
            num_train_epochs=args.epochs, weight_decay=0.01, warmup_ratio=0.1, max_grad_norm=1.0,
            lr_scheduler_type="linear", eval_strategy="no", save_strategy="no", logging_steps=10,
            report_to=[], seed=seed, use_cpu=True, dataloader_num_workers=0, disable_tqdm=True,
        )
        trainer = Trainer(model=model, args=targs, train_dataset=features, data_collator=counting, callbacks=[clock])
        result = trainer.train()
    return dict(steps=int(result.global_step), train_s=clock.train_s, dev_f1=clock.dev_f1, padded=padded[0],
                threads=[torch.get_num_threads()])


def run_trainer(args: argparse.Namespace, seed: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOMP_", "OMP_", "MKL_"))}
    out = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--trainer-child", str(seed)], cwd=REPO,
                         env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# -- xltui, through a real worker --------------------------------------------------------------------------
def run_xltui(args: argparse.Namespace, root: Path, grouped: bool, seed: int) -> dict:
    """One seed queued alone and worked through by ``xltui worker --cpu`` with xltui's defaults:
    steps, train_s, dev_f1 per epoch and the threads it trained with."""
    from sqlmodel import Session, select

    from engine.grid.expand import expand
    from engine.grid.schema import load_grid
    from engine.runner.plan import queue_runs
    from engine.store.db import open_db
    from engine.store.schema import MetricPoint, Run

    name = "grouped" if grouped else "random"
    grid, db = root / f"{name}.yaml", root / f"{name}.db"
    grid.write_text(GRID.format(model=args.model, lr=args.lr, seeds=seed,
                                batch=args.batch_size, length=args.max_length, epochs=args.epochs,
                                sentences=args.sentences, dev=args.dev, grouped=str(grouped).lower()))
    spec = load_grid(grid)
    (run_id,) = queue_runs(open_db(str(db)), spec.study, expand(spec)).new
    slots = ["--cpu-slots", str(args.cpu_slots)] if args.cpu_slots else []
    env = {k: v for k, v in os.environ.items() if k != "XLTUI_CPU_SLOTS"}  # xltui's default, unless --cpu-slots
    subprocess.run([sys.executable, "-m", "xltui.cli", "worker", "--db", str(db), "--cpu", *slots,
                    "--exit-when-idle", "--poll", "0.2"], cwd=REPO, check=True, capture_output=True, env=env)
    with Session(open_db(str(db), create=False)) as s:
        run = s.get(Run, run_id)
        if run.status != "succeeded":
            raise SystemExit(f"xltui {name}: run {run.id} {run.status}")
        points = s.exec(select(MetricPoint).where(MetricPoint.run_id == run.id)).all()
    threads = [int(p.value) for p in sorted(points, key=lambda p: p.id) if p.name == "cpu_threads"]
    return dict(loop_time(points), padded=replayed_padding(args, seed, grouped), threads=threads)


def replayed_padding(args: argparse.Namespace, seed: int, grouped: bool) -> int:
    """Padded positions a run's training batches held: its seeded loader replayed here (the
    run process reads the first ``max_train_sentences`` the same way and seeds the same
    generator), so the two sides' per-step times can be read per token too."""
    from transformers import DataCollatorForTokenClassification

    from engine.training.tagging_data import train_loader
    from engine.training.zeroshot import seed_everything

    generator = seed_everything(seed)  # its own generator: loading the model below draws nothing from it
    tokenizer, _, _, features = english_ner(args)
    loader = train_loader(features, args.batch_size, DataCollatorForTokenClassification(tokenizer), generator, grouped)
    return sum(b["input_ids"].numel() for _ in range(args.epochs) for b in loader)


def loop_time(points) -> dict:
    """Steps, training seconds without dev evaluations, and dev F1 per epoch, from a run's points.

    The loop logs ``total_steps`` as it starts, flushes each epoch's last losses just
    before the dev evaluation and logs ``dev_score`` after it: epoch e trains from the
    previous dev score (or the start) to its last loss point.
    """
    by_name: dict[str, list] = {}
    for p in points:
        by_name.setdefault(p.name, []).append(p)
    start = by_name["total_steps"][0].t
    devs = sorted(by_name["dev_score"], key=lambda p: p.step)
    losses = {p.step: p.t for p in by_name["train_loss"]}
    train_s, begin = 0.0, start
    for dev in devs:
        train_s += losses[dev.step] - begin
        begin = dev.t
    return dict(steps=max(losses), train_s=train_s, dev_f1=[d.value for d in devs])


def summarise(name: str, runs: list[dict]) -> tuple[str, float, float, float, float, str]:
    """Median s/step, median ms per 1,000 padded positions, dev F1 mean, sd and per seed."""
    per_step = [r["train_s"] / r["steps"] for r in runs]
    per_kilotoken = [1e6 * r["train_s"] / r["padded"] for r in runs]
    last = [r["dev_f1"][-1] for r in runs]
    return (name, statistics.median(per_step), statistics.median(per_kilotoken), statistics.mean(last),
            statistics.stdev(last) if len(last) > 1 else 0.0, " ".join(f"{f:.3f}" for f in last))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("XLTUI_DATA", str(REPO.parent / "shared" / "data"))
    if args.trainer_child is not None:
        print(json.dumps(trainer_child(args, args.trainer_child)))
        return
    from rich.console import Console
    from rich.table import Table

    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory(prefix="xltui-bench-vs-trainer-") as tmp:
        root = Path(tmp)
        os.environ["XLTUI_CACHE"] = str(root / "cache")
        loops = {"trainer": ("Trainer (random batches)", lambda seed: run_trainer(args, seed)),
                 "random": ("xltui (random batches)", lambda seed: run_xltui(args, root, False, seed)),
                 "grouped": ("xltui (grouped by length)", lambda seed: run_xltui(args, root, True, seed))}
        keys = args.loops.split(",")
        results: dict[str, list[dict]] = {loops[key][0]: [] for key in keys}
        for seed in seeds:  # the loops take turns: a change of the machine's load weighs on each alike
            for key in keys:
                results[loops[key][0]].append(loops[key][1](seed))
    rows = [summarise(name, runs) for name, runs in results.items()]
    base, base_tok = rows[0][1], rows[0][2]
    table = Table(title=f"{args.model}, English NER: {args.sentences} sentences × {args.epochs} epochs, batch "
                        f"{args.batch_size}, max_length {args.max_length}, lr {args.lr:g}; seeds {args.seeds}; CPU",
                  title_justify="left")
    for col in ("loop", "s/step (median)", "× Trainer", "padded/step", "ms/1k padded", "× Trainer ",
                "dev F1 (mean ± sd)", "dev F1 per seed", "steps", "threads"):
        table.add_column(col, justify="left" if col == "loop" else "right")
    for (name, step_s, tok_ms, mean, sd, each), runs in zip(rows, results.values()):
        padded = statistics.mean(r["padded"] / r["steps"] for r in runs)
        table.add_row(name, f"{step_s:.3f}", f"{step_s / base:.2f}", f"{padded:,.0f}", f"{tok_ms:.2f}",
                      f"{tok_ms / base_tok:.2f}", f"{mean:.3f} ± {sd:.3f}", each, str(runs[0]["steps"]),
                      " ".join("→".join(map(str, r["threads"])) or "?" for r in runs))
    print("s/step per seed: " + "; ".join(f"{name}: " + " ".join(f"{r['train_s'] / r['steps']:.3f}" for r in runs)
                                            for name, runs in results.items()))
    first = list(results.values())[0]
    for name, runs in list(results.items())[1:]:  # each seed against the baseline's run just before it
        paired = [(r["train_s"] / r["steps"]) / (b["train_s"] / b["steps"]) for r, b in zip(runs, first)]
        print(f"{name}: × {rows[0][0]} per seed " + " ".join(f"{x:.2f}" for x in paired)
              + f" (median {statistics.median(paired):.2f})")
    Console(width=160).print(table)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
