"""Helpers shared by tests (moved from tests/training/test_train_tagging.py)."""

from __future__ import annotations

from engine.spec import RunSpec, TrainParams


def spec(model: str = "tiny", seed: int = 1, **train) -> RunSpec:
    params = dict(lr=1e-3, batch_size=8, max_length=48, epochs=1, max_train_sentences=48, max_eval_sentences=32)
    return RunSpec(task="ner", model_name=model, model=model, method="full", source=("en",), targets=("swa",),
                   setting="zero-shot", seed=seed, data={"en": "masakhaner", "swa": "masakhaner"},
                   train=TrainParams(**{**params, **train}))
