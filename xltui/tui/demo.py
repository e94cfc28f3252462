"""A small, fully deterministic study database: for snapshot tests and README screenshots.

Rows are written directly with fixed timestamps (relative to ``T0``) and
synthetic-but-plausible curves, so two builds give byte-identical screens. Real
runs (tests with a worker process) cover the real data path; this covers looks.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from engine.gpus import Gpu
from engine.store.schema import Attempt, MetricPoint, Result, Run, Study, SystemSample, Worker

T0 = 1_750_000_000.0  # "now" of the demo
GIB = 1024 ** 3
HOST = "gpu-box"


def demo_gpus() -> list[Gpu]:
    """Two H100s, 31.5 and 0.5 GiB used."""
    return [Gpu("0", "NVIDIA H100 80GB HBM3", 80 * GIB, 80 * GIB - int(31.5 * GIB), util_percent=87.0),
            Gpu("1", "NVIDIA H100 80GB HBM3", 80 * GIB, 80 * GIB - int(0.5 * GIB), util_percent=0.0)]


def _spec(task: str, model: str, method: str, seed: int, targets: list[str]) -> str:
    hub = {"xlmr": "xlm-roberta-base", "mbert": "bert-base-multilingual-cased", "madx": "xlm-roberta-base"}[model]
    return json.dumps(dict(task=task, model_name=model, model=hub, method=method, setting="zero-shot", seed=seed,
                           source=["en"], targets=targets, data={task: "masakhaner" if task == "ner" else "ud"},
                           train=dict(lr=1e-4 if method == "madx" else 2e-5, batch_size=32, max_length=128,
                                      epochs=10, patience=3, precision="auto")), sort_keys=True)


def _wiggle(i: int, seed: int) -> float:
    return 0.5 * math.sin(1.7 * i + seed) + 0.3 * math.sin(0.31 * i * seed + 1.0)


def build_demo(engine: Engine, root: Path) -> dict[str, int]:
    """Fill an empty database; returns ids worth opening (``running``, ``failed``, ``succeeded``)."""
    root.mkdir(parents=True, exist_ok=True)
    runs, attempts, points, samples, results = [], [], [], [], []
    plan = []  # (study, task, model, method, seed, targets, status)
    ner_targets, pos_targets = ["swa", "yor", "hau"], ["yor", "amh"]
    statuses = {("xlmr", 3): "running", ("mbert", 3): "failed", ("madx", 2): "queued", ("madx", 3): "queued"}
    for model, method in (("xlmr", "full"), ("mbert", "full"), ("madx", "madx")):
        for seed in (1, 2, 3):
            plan.append((1, "ner", model, method, seed, ner_targets, statuses.get((model, seed), "succeeded")))
    for model, seed, status in (("xlmr", 1, "succeeded"), ("xlmr", 2, "succeeded"), ("mbert", 1, "cancelled"),
                                ("mbert", 2, "queued")):
        plan.append((2, "pos", model, "full", seed, pos_targets, status))
    ids: dict[str, int] = {}
    for run_id, (study, task, model, method, seed, targets, status) in enumerate(plan, start=1):
        start = T0 - 3600 + 420 * run_id if status != "queued" else None
        end = start + 380 + 7 * seed if status in ("succeeded", "failed", "cancelled") else None
        device = ("cuda:0" if run_id % 2 else "cuda:1") if start else None
        attempt_id = run_id if start else None
        error = None
        log = root / f"xltui-artifacts/run-{run_id}/attempt-1/run.log"
        if status == "failed":
            error = (f"OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (run process exited with "
                     f"status 1)\nlog: {log}\nTraceback (most recent call last):\n  ...\n"
                     f"torch.OutOfMemoryError: CUDA out of memory.")
            ids["failed"] = run_id
        elif status == "cancelled":
            error = "cancelled while running"
        runs.append(dict(id=run_id, study_id=study, spec_hash=f"{run_id:04d}demo", model_name=model, method=method,
                         spec_json=_spec(task, model, method, seed, targets), task=task, setting="zero-shot",
                         seed=seed, source="en", targets=",".join(targets), status=status, priority=0,
                         attempts=1 if start else 0, retry_base=0, max_attempts=3, worker_id=None, device=device,
                         attempt_id=attempt_id, lease_expires_at=None, created_at=T0 - 4000, started_at=start,
                         finished_at=end, error=error))
        if not start:
            continue
        log.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"run {run_id} attempt 1: {model} {task} seed {seed}", f"precision bf16 on {device}"]
        attempts.append(dict(id=attempt_id, run_id=run_id, number=1, worker_id=f"{HOST}:4242:{device}", device=device,
                             started_at=start, finished_at=end, outcome=None if status == "running" else status,
                             error=error, log_path=str(log)))
        last = 540 if status == "running" else (260 if status == "failed" else 1200)
        for step in range(1, last + 1):
            loss = 2.2 * math.exp(-step / 260) + 0.18 + 0.04 * _wiggle(step, seed)
            lr = 2e-5 * min(step / 120, (1200 - step) / 1080)
            points += [dict(run_id=run_id, attempt_id=attempt_id, step=step, name="train_loss", value=loss, t=start + step * 0.3),
                       dict(run_id=run_id, attempt_id=attempt_id, step=step, name="lr", value=lr, t=start + step * 0.3)]
            if step % 10 == 0:
                points.append(dict(run_id=run_id, attempt_id=attempt_id, step=step, name="examples_per_s",
                                   value=410 + 12 * _wiggle(step, seed), t=start + step * 0.3))
            if step % 120 == 0:
                dev = 0.82 - 0.5 * math.exp(-step / 300) + 0.01 * _wiggle(step, seed)
                points.append(dict(run_id=run_id, attempt_id=attempt_id, step=step, name="dev_score", value=dev,
                                   t=start + step * 0.3))
                lines.append(f"epoch {step // 120}: step {step}/1200 loss {loss:.4f} dev {dev:.4f}")
        points.append(dict(run_id=run_id, attempt_id=attempt_id, step=0, name="total_steps", value=1200, t=start))
        for i in range(0, int((end or T0) - start) // 2):
            util = 88 + 8 * _wiggle(i, seed)
            samples.append(dict(run_id=run_id, attempt_id=attempt_id, t=start + 2 * i, device="cuda:0",
                                rss_bytes=int(3.1 * GIB), gpu_allocated_bytes=int((9 + 0.4 * _wiggle(i, 1)) * GIB),
                                gpu_reserved_bytes=int(12 * GIB), gpu_peak_bytes=int(10.5 * GIB),
                                gpu_util_percent=util))
        if status == "failed":
            lines += ["Traceback (most recent call last):", '  File "engine/training.py", line 96, in train',
                      "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
                      "xltui-error: OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"]
        log.write_text("\n".join(lines) + "\n")
        if status != "succeeded":
            ids.setdefault(status, run_id)
            continue
        ids.setdefault("succeeded", run_id)
        base = {"xlmr": 0.0, "mbert": -0.06, "madx": 0.04}[model]
        for lang_i, lang in enumerate(targets):
            main = 0.62 + base - 0.07 * lang_i + 0.012 * _wiggle(run_id, seed)
            if task == "ner":
                scores = dict(f1=main, precision=main + 0.02, recall=main - 0.02, macro_f1=main - 0.03)
                scores.update({f"f1:{t}": main + d for t, d in (("DATE", -0.08), ("LOC", 0.05), ("ORG", -0.12),
                                                                   ("PER", 0.09))})
            else:
                scores = dict(accuracy=main + 0.2)
                scores.update({f"accuracy:{t}": main + 0.2 + d for t, d in (("ADJ", -0.1), ("NOUN", 0.05),
                                                                              ("PUNCT", 0.2), ("VERB", -0.04))})
            results += [dict(run_id=run_id, attempt_id=attempt_id, language=lang, split="test", metric=m, value=v)
                        for m, v in scores.items()]
        results.append(dict(run_id=run_id, attempt_id=attempt_id, language="en", split="dev",
                            metric="f1" if task == "ner" else "accuracy", value=0.86 + base / 3))
        n_params = {"xlmr": 278e6, "mbert": 178e6, "madx": 286e6}[model]
        tokens = {"xlmr": 52_000.0, "mbert": 61_000.0, "madx": 68_000.0}[model] * (1 + 0.02 * _wiggle(run_id, seed))
        speed = dict(tokens_per_s=tokens, examples_per_s=tokens / 41, mfu=6 * n_params * tokens / 989e12,
                     peak_gpu_bytes=10.5 * GIB, n_params=n_params, train_seconds=end - start - 20, steps=1200.0,
                     gpu_runs=1.0 + (run_id % 3 == 0))
        results += [dict(run_id=run_id, attempt_id=attempt_id, language="en", split="train", metric=m, value=v)
                    for m, v in speed.items()]
    running = ids.get("running")
    with engine.begin() as conn:
        conn.execute(insert(Study), [dict(id=1, name="madx-vs-baselines-africa", created_at=T0 - 4000, external=False),
                                     dict(id=2, name="pos-ud", created_at=T0 - 4000, external=False)])
        conn.execute(insert(Run), runs)
        conn.execute(insert(Attempt), attempts)
        conn.execute(insert(MetricPoint), points)
        conn.execute(insert(SystemSample), samples)
        conn.execute(insert(Result), results)
        conn.execute(insert(Worker), [
            dict(id=f"{HOST}:4242:cuda:0", host=HOST, pid=4242, device="cuda:0", started_at=T0 - 3700,
                 heartbeat_at=T0 - 2, current_run_id=running, state="busy", job_id="81234_0", job_index=0),
            dict(id=f"{HOST}:4242:cuda:1", host=HOST, pid=4242, device="cuda:1", started_at=T0 - 3700,
                 heartbeat_at=T0 - 4, current_run_id=None, state="idle", job_id="81234_0", job_index=0)])
    return ids
