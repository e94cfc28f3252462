"""Helpers shared by tests (moved from tests/analysis/test_tables.py)."""

from __future__ import annotations

import json

from engine.runner.plan import queue_runs
from engine.spec import Outcome, RunSpec, TrainParams
from engine.store import queue
from engine.store.db import open_db
from engine.store.results import RunOutput, record_output
from engine.store.telemetry import MetricWriter
from tests.support.env import DATA

CSV_PATH = DATA / "results" / "masakhaner2_baselines.csv"


SCORES = {
    "madx": {"swa": {1: 0.80, 2: 0.82, 3: 0.81}, "yor": {1: 0.70, 2: 0.69, 3: 0.72}},
    "xlmr": {"swa": {1: 0.78, 2: 0.80, 3: 0.80}, "yor": {1: 0.66, 2: 0.68, 3: 0.70}},
}


def spec(system: str, seed: int) -> RunSpec:
    return RunSpec(task="ner", model_name=system, model="tiny", method="full", source=("en",),
                   targets=("swa", "yor"), setting="zero-shot", seed=seed,
                   data={"en": "masakhaner", "swa": "masakhaner", "yor": "masakhaner"}, train=TrainParams())


def build_stored_runs(db: str, scores: dict = SCORES, *, queued: tuple = (), failed: tuple = (),
                      artifacts: dict | None = None, study: str = "own") -> object:
    """A study of real queue rows: every (system, seed) run claimed and recorded with ``scores``.

    ``queued``/``failed``: (system, seed) runs left queued or failed; ``artifacts``: (system, seed) ->
    [(kind, path, language)] stored with the run's output.
    """
    engine = open_db(db)
    seeds = {(s, seed) for s, langs in scores.items() for per in langs.values() for seed in per}
    queue_runs(engine, study, [spec(s, seed) for s, seed in sorted(seeds | set(failed))])
    while (claim := queue.claim_next(engine, "w", "cpu")) is not None:
        run = json.loads(claim.spec_json)
        key = (run["model_name"], run["seed"])
        if key in failed:
            queue.finish(engine, claim, "w", Outcome.FAILED, error="CUDA out of memory")
            continue
        out = RunOutput()
        out.add_scores("en", "dev", {"f1": 0.9})
        for lang, per_seed in scores[key[0]].items():
            if key[1] in per_seed:
                out.add_scores(lang, "test", {"f1": per_seed[key[1]], "precision": 0.5, "recall": 0.5})
        out.artifacts.extend((artifacts or {}).get(key, []))
        assert record_output(engine, claim.run_id, claim.attempt_id, "w", out)
    if queued:
        queue_runs(engine, study, [spec(s, seed) for s, seed in queued])
    return engine


def writer_on(db: str, device: str = "cpu") -> MetricWriter:
    """A metric writer for a freshly queued and claimed tiny run (on ``device``), as a run process has one."""
    engine = open_db(db)
    one = RunSpec(task="ner", model_name="t", model="tiny", method="full", source=("en",), targets=("swa",),
                  setting="zero-shot", seed=1, data={"en": "masakhaner", "swa": "masakhaner"}, train=TrainParams())
    queue_runs(engine, "metrics", [one])
    claim = queue.claim_next(engine, "w", device)
    return MetricWriter(engine, claim.run_id, claim.attempt_id)
