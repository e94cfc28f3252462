"""What each adapter method costs beside what it scores: MiniLM, English NER (MasakhaNER's English
set), the same data, batches and optimizer steps for every method, full fine-tuning the baseline row.

Each method trains in its own process through the real zero-shot trainer
(engine.training.zeroshot.train_and_evaluate, early stopping off: every method takes the same
steps), so its peak resident memory is its own. Printed per method: trainable parameters (count and
share of the model), seconds per optimizer step, peak RSS, and English dev F1 after those steps;
then each against full fine-tuning (ratios measured side by side in this run hold on a shared
machine; absolute seconds drift).

    python bench/methods.py                        # ~5 minutes on 2 CPU cores
    python bench/methods.py --sentences 200 --epochs 1 --methods full lora ia3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# name -> (method, task adapter as a grid writes it); "madx" rows stack on an English language adapter
METHODS: dict[str, tuple[str, dict | None]] = {
    "full": ("full", None),
    "seq_bn": ("adapter", {"config": "seq_bn"}),
    "lora": ("adapter", {"config": "lora", "r": 8, "alpha": 16}),
    "ia3": ("adapter", {"config": "ia3"}),
    "compacter": ("adapter", {"config": "compacter"}),
    "prefix_tuning": ("adapter", {"config": "prefix_tuning"}),
    "loreft": ("adapter", {"config": "loreft"}),
    "prompt_tuning": ("adapter", {"config": "prompt_tuning"}),
    "madx": ("madx", None),
    "madx+lora": ("madx", {"config": "lora", "r": 8, "alpha": 16}),
}
LR = {"full": 3e-4}  # every adapter method: 1e-3 (they start from zero effect and need the larger step)


def spec_of(name: str, sentences: int, epochs: int, eval_sentences: int):
    from engine.spec import AdapterParams, MadxParams, RunSpec, TaskAdapter, TrainParams

    method, raw = METHODS[name]
    options = dict(raw or {})
    task = TaskAdapter(config=options.pop("config"), options=options) if raw else None
    setup = ({"madx": MadxParams(task_adapter=task)} if method == "madx" else
             {"adapter": AdapterParams(task_adapter=task)} if method == "adapter" else {})
    train = TrainParams(lr=LR.get(name, 1e-3), batch_size=16, max_length=64, epochs=epochs, patience=epochs,
                        max_train_sentences=sentences, max_eval_sentences=eval_sentences, group_by_length=False)
    return RunSpec(task="ner", model_name=name, model="minilm", method=method, source=("en",), targets=("swa",),
                   setting="zero-shot", seed=1, data={"en": "masakhaner", "swa": "masakhaner"}, train=train, **setup)


def one(args) -> None:
    """Train one method in this process and print its row as JSON (the parent reads it)."""
    from engine.runfiles import RunFiles
    from engine.training.inputs import RunInputs
    from engine.training.zeroshot import train_and_evaluate

    spec = spec_of(args.one, args.sentences, args.epochs, args.eval_sentences)
    inputs = RunInputs(lang_adapters={"en": args.lang_adapter, "swa": args.lang_adapter})
    out = train_and_evaluate(spec, RunFiles(Path(args.folder) / args.one), None, "cpu", inputs, log=lambda _: None)
    got = {(lang, split, name): value for lang, split, name, value in out.results}
    print(json.dumps({"method": args.one, "label": spec.method_label, "steps": got[("en", "train", "steps")],
                      "n_trainable": got[("en", "train", "n_trainable")],
                      "share": got[("en", "train", "trainable_share")],
                      "s_per_step": got[("en", "train", "s_per_step")],
                      "peak_rss": got[("en", "train", "peak_rss_bytes")], "dev_f1": got[("en", "dev", "f1")]}))


def lang_adapter(folder: Path) -> Path:
    """An English MiniLM language adapter (a few MLM steps: the madx rows' cost, not their quality)."""
    from engine.data.catalog import task_files
    from engine.data.conll import read_conll
    from engine.spec import LangAdapterParams, LangAdapterSpec
    from engine.training.madx import train_language_adapter

    spec = LangAdapterSpec(model="minilm", language="en", text="ner:masakhaner",
                           adapter=LangAdapterParams(mlm_steps=20, batch_size=16, max_length=64), seed=1)
    text = [s.tokens for s in read_conll(task_files("ner", "masakhaner", "en").get("train"), limit=320)]
    return train_language_adapter(spec, text, folder / "la-en", "cpu", log=lambda _: None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--sentences", type=int, default=320, help="English training sentences")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--eval-sentences", type=int, default=200, help="English dev sentences scored")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--lang-adapter", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return one(args)
    names = ["full", *[m for m in args.methods if m != "full"]]  # the baseline row always runs
    rows = []
    with tempfile.TemporaryDirectory(prefix="xltui-bench-methods-") as tmp:
        adapter = lang_adapter(Path(tmp))
        for name in names:
            cmd = [sys.executable, __file__, "--one", name, "--folder", tmp, "--lang-adapter", str(adapter),
                   "--sentences", str(args.sentences), "--epochs", str(args.epochs),
                   "--eval-sentences", str(args.eval_sentences)]
            done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": str(os.cpu_count() or 1)})
            if done.returncode != 0:
                raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"  {name}: done", file=sys.stderr)
    base = rows[0]
    print(f"MiniLM, English NER: {args.sentences} sentences x {args.epochs} epochs, batch 16, "
          f"{int(base['steps'])} steps each; dev F1 on {args.eval_sentences} sentences; {os.cpu_count()} CPU core(s)")
    header = f"{'method':<16}{'trainable':>12}{'share':>9}{'s/step':>9}{'peak RSS':>10}{'dev F1':>8}" \
             f"{'× steps':>9}{'× RSS':>7}{'× trainable':>13}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['method']:<16}{int(r['n_trainable']):>12,}{r['share']:>8.2%} {r['s_per_step']:>8.3f}"
              f"{r['peak_rss'] / 2**30:>8.2f}Gi{r['dev_f1'] * 100:>8.1f}{r['s_per_step'] / base['s_per_step']:>9.2f}"
              f"{r['peak_rss'] / base['peak_rss']:>7.2f}{r['n_trainable'] / base['n_trainable']:>13.4f}")
    print("baseline: full fine-tuning (first row); × columns are each method over it, measured in this run")


if __name__ == "__main__":
    main()
