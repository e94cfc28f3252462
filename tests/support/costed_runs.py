"""A study whose runs stored their costs, written through the store's own functions (no training).

Three methods side by side (full fine-tuning, MAD-X, a LoRA task adapter), zero-shot and few-shot
(K=10, one run per target), 3 seeds; every run records its test scores and, with its train split,
the costs engine.training.loop.speed_stats stores (under the source tag for zero-shot, under its
target for few-shot). One run was cancelled while it ran, its process still stored other numbers
(the store keeps what a cancelled attempt computed), and it was retried: only its latest attempt counts. The expected values are computed from the plain dictionaries below, not read back.
"""

from __future__ import annotations

import json

from engine.runner.plan import queue_runs
from engine.spec import AdapterParams, MadxParams, RunSpec, TaskAdapter, TrainParams
from engine.store import queue, requests
from engine.store.db import open_db
from engine.store.results import RunOutput, record_output

STUDY = "costs"
SEEDS = (1, 2, 3)
TARGETS = ("swa", "yor")
LORA = TaskAdapter(config="lora", options={"r": 8, "alpha": 16})
LABELS = {"xlmr": "full", "madx": "madx", "lora": "lora alpha=16 r=8"}  # RunSpec.method_label of each system
N_PARAMS = {"xlmr": 278_000_000, "madx": 280_400_000, "lora": 278_900_000}
N_TRAINABLE = {"xlmr": 278_000_000, "madx": 1_490_000, "lora": 890_000}
GPU = {"madx"}  # only these stored a peak GPU memory
RETRIED = ("lora", 2, "zero-shot")  # cancelled while running (its process still stored 10x numbers), retried


def score(system: str, seed: int, lang: str, setting: str) -> float:
    base = {"xlmr": 0.78, "madx": 0.80, "lora": 0.76}[system] + (0.05 if setting == "few-shot" else 0.0)
    jitter = {"xlmr": 0.004, "madx": 0.0, "lora": 0.007}[system] * (seed % 2)  # differences that vary by seed
    return round(base + 0.01 * seed + jitter - (0.1 if lang == "yor" else 0.0) + (0.003 * seed if lang == "swa" else 0.0),
                 6)


def costs(system: str, seed: int, setting: str) -> dict[str, float]:
    """What speed_stats would store; s/step and memory vary with the seed so that means are means."""
    steps = 100 if setting == "zero-shot" else 10
    out = dict(n_params=N_PARAMS[system], n_trainable=N_TRAINABLE[system],
               trainable_share=N_TRAINABLE[system] / N_PARAMS[system],
               s_per_step={"xlmr": 0.30, "madx": 0.20, "lora": 0.18}[system] + 0.01 * seed,
               peak_rss_bytes=(3 + seed) * 2**30 + {"xlmr": 0, "madx": 2**28, "lora": 2**27}[system],
               tokens_per_s=1000.0 * seed, train_seconds=steps * 0.25, steps=steps)
    if system in GPU:
        out["peak_gpu_bytes"] = (5 + seed) * 2**30
    return out


def specs() -> list[RunSpec]:
    out = []
    setups = {"xlmr": dict(method="full"), "madx": dict(method="madx", madx=MadxParams()),
              "lora": dict(method="adapter", adapter=AdapterParams(task_adapter=LORA))}
    for system, setup in setups.items():
        for seed in SEEDS:
            zero = RunSpec(task="ner", model_name=system, model="tiny", source=("en",), targets=TARGETS,
                           setting="zero-shot", seed=seed, data={lang: "masakhaner" for lang in ("en", *TARGETS)},
                           train=TrainParams(), **setup)
            out.append(zero)
            out += [zero.model_copy(update=dict(setting="few-shot", k=10, targets=(t,), init_from=zero.spec_hash()))
                    for t in TARGETS]
    return out


def _output(spec: dict, scale: float = 1.0) -> RunOutput:
    system, seed, setting = spec["model_name"], spec["seed"], spec["setting"]
    out = RunOutput()
    out.add_scores("en", "dev", {"f1": 0.9})
    where = "en" if setting == "zero-shot" else spec["targets"][0]
    out.add_scores(where, "train", {"best_epoch": 2, **{k: v * scale for k, v in costs(system, seed, setting).items()}})
    for lang in spec["targets"]:
        out.add_scores(lang, "test", {"f1": score(system, seed, lang, setting) * scale, "precision": 0.5})
    return out


def build_costed_runs(db: str) -> object:
    """The study ``costs`` in ``db``, every run succeeded (the language-adapter runs MAD-X waits for too)."""
    engine = open_db(db)
    queue_runs(engine, STUDY, specs())
    cancelled = False
    while (claim := queue.claim_next(engine, "w", "cpu")) is not None:
        spec = json.loads(claim.spec_json)
        if spec.get("kind") == "lang-adapter":
            assert record_output(engine, claim.run_id, claim.attempt_id, "w", RunOutput())
            continue
        if (spec["model_name"], spec["seed"], spec["setting"]) == RETRIED and not cancelled:
            cancelled = True
            assert requests.cancel(engine, [claim.run_id])[claim.run_id].changed
            assert not record_output(engine, claim.run_id, claim.attempt_id, "w", _output(spec, 10.0))  # kept
            assert requests.retry(engine, [claim.run_id])[claim.run_id].changed
            continue
        assert record_output(engine, claim.run_id, claim.attempt_id, "w", _output(spec))
    return engine
