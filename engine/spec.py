"""The fully resolved description of one run, and its stable identity.

A RunSpec is what the engine stores and what a run subprocess executes. Every
default is written into it, so a stored run says exactly what ran even after the
grid defaults change; its hash is the run's identity for de-duplication.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SPEC_VERSION = 1

Task = Literal["ner", "pos"]
Method = Literal["full"]
Setting = Literal["zero-shot"]
Precision = Literal["auto", "bf16", "fp16", "fp32"]


class TrainParams(BaseModel):
    """Optimisation hyperparameters; defaults follow the XLM-R / MAD-X literature."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lr: float = Field(2e-5, gt=0, description="peak learning rate (AdamW)")
    batch_size: int = Field(32, ge=1)
    max_length: int = Field(128, ge=8, le=4096, description="subword tokens per sentence")
    epochs: int = Field(10, ge=1)
    patience: int = Field(3, ge=1, description="epochs without source-dev improvement before stopping")
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    max_train_sentences: int | None = Field(None, ge=1, description="use only the first N source training sentences")
    max_eval_sentences: int | None = Field(None, ge=1, description="evaluate on the first N sentences (smoke runs only)")
    precision: Precision = "auto"


class RunSpec(BaseModel):
    """One training run: a model, trained on source languages, evaluated on targets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spec_version: int = SPEC_VERSION
    task: Task
    model_name: str = Field(description="the grid's alias for the model entry, e.g. 'xlmr'")
    model: str = Field(description="preset name, absolute local path, or hub id")
    method: Method
    source: tuple[str, ...]
    targets: tuple[str, ...]
    setting: Setting
    k: int | None = None
    seed: int
    data: dict[str, str] = Field(description="language -> dataset reference (catalog name or absolute dir)")
    train: TrainParams

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def spec_hash(self) -> str:
        """Stable identity: the same resolved spec always hashes the same."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.source + self.targets))
