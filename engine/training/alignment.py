"""The cross-lingual alignment regulariser: loss = CE + lambda * (1 - cos(h_src, h_tgt)).

h is the mean-pooled last hidden state. With a parallel file for a target, each
step pulls a sampled batch of translation pairs together (source side through the
source language adapter, target side through the target's, for MAD-X). Without
one, it pulls the centroid of the step's source batch towards the centroid of a
sampled batch of unlabelled target sentences. Several targets take turns, one per
step. The loop logs CE and this term separately, so their balance can be checked.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from engine.data.text import read_parallel, target_text
from engine.spec import RunSpec
from engine.training.token_cache import cached_tokenize


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average of the hidden states of real (unpadded) positions: (batch, seq, dim) -> (batch, dim)."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


def cosine_gap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean of 1 - cos over rows (or of one pair of vectors): 0 when aligned, up to 2 when opposite."""
    return (1.0 - F.cosine_similarity(a.float(), b.float(), dim=-1)).mean()


@dataclass
class Router:
    """Remembers the active language so the aligner can switch adapters and switch back."""

    switch: Callable[[str], None]
    current: str | None = None

    def __call__(self, lang: str) -> None:
        if lang != self.current:
            self.switch(lang)
            self.current = lang


class Aligner:
    """Computes the alignment term for one training step (called inside the loop's autocast)."""

    def __init__(self, tokenizer, spec: RunSpec, router: Router, log: Callable[[str], None] = print):
        assert spec.align is not None
        self.tokenizer, self.router, self.params = tokenizer, router, spec.align
        self.source, self.targets = spec.source[0], list(spec.targets)
        self.rng = random.Random(spec.seed)
        self.step = 0
        limit = spec.train.max_length
        self.pairs: dict[str, tuple[list, list]] = {}
        self.text: dict[str, list] = {}
        for lang in self.targets:
            if lang in self.params.parallel:
                pairs = read_parallel(_file(self.params.parallel[lang]))
                src = cached_tokenize(tokenizer, [p[0] for p in pairs], limit)[0]
                tgt = cached_tokenize(tokenizer, [p[1] for p in pairs], limit)[0]
                self.pairs[lang] = ([ids for ids, _ in src], [ids for ids, _ in tgt])
                log(f"alignment {lang}: {len(pairs)} parallel pairs")
            else:
                ref = self.params.text.get(lang) or f"{spec.task}:{spec.data[lang]}"
                sentences = target_text(ref, lang)
                self.text[lang] = [ids for ids, _ in cached_tokenize(tokenizer, sentences, limit)[0]]
                log(f"alignment {lang}: {len(sentences)} unlabelled sentences for batch centroids")

    def _pooled(self, model: torch.nn.Module, sequences: list[list[int]], device: torch.device) -> torch.Tensor:
        batch = self.tokenizer.pad({"input_ids": sequences}, return_tensors="pt")
        ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
        hidden = model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states[-1]
        return mean_pool(hidden, mask)

    def _sample(self, n: int) -> list[int]:
        k = min(self.params.batch_size, n)
        return self.rng.sample(range(n), k)

    def __call__(self, model: torch.nn.Module, batch: dict[str, torch.Tensor], outputs) -> torch.Tensor:
        target = self.targets[self.step % len(self.targets)]
        self.step += 1
        device = batch["input_ids"].device
        before = self.router.current
        try:
            if target in self.pairs:
                src, tgt = self.pairs[target]
                chosen = self._sample(len(src))
                self.router(self.source)
                h_src = self._pooled(model, [src[i] for i in chosen], device)
                self.router(target)
                h_tgt = self._pooled(model, [tgt[i] for i in chosen], device)
            else:
                h_src = mean_pool(outputs.hidden_states[-1], batch["attention_mask"]).mean(0)
                text = self.text[target]
                self.router(target)
                h_tgt = self._pooled(model, [text[i] for i in self._sample(len(text))], device).mean(0)
        finally:
            if before is not None:
                self.router(before)
        return cosine_gap(h_src, h_tgt)


def _file(ref: str) -> Path:
    return Path(ref.removeprefix("file:"))
