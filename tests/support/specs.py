"""Helpers shared by tests (moved from tests/store/test_queue.py)."""

from __future__ import annotations

from engine.spec import RunSpec, TrainParams


def specs(n: int, lr: float = 2e-5) -> list[RunSpec]:
    return [
        RunSpec(task="ner", model_name="tiny", model="tiny", method="full", source=("en",), targets=("swa",),
                setting="zero-shot", seed=seed, data={"en": "masakhaner", "swa": "masakhaner"},
                train=TrainParams(lr=lr))
        for seed in range(n)
    ]
