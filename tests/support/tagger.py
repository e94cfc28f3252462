"""Helpers shared by tests (moved from tests/training/test_loop.py)."""

from __future__ import annotations

from types import SimpleNamespace

import torch


class Tagger(torch.nn.Module):
    """The smallest model the loop accepts: ``model(**batch).loss``; NaN from ``nan_at`` on."""

    def __init__(self, nan_at: int | None = None):
        super().__init__()
        self.emb = torch.nn.Embedding(50, 8)
        self.out = torch.nn.Linear(8, 3)
        self.calls, self.nan_at = 0, nan_at

    def forward(self, input_ids, labels, output_hidden_states=False):
        self.calls += 1
        logits = self.out(self.emb(input_ids))
        loss = torch.nn.functional.cross_entropy(logits.view(-1, 3), labels.view(-1))
        if self.nan_at is not None and self.calls >= self.nan_at:
            loss = loss * float("nan")
        return SimpleNamespace(loss=loss)


def batches(n: int, size: int = 4) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [dict(input_ids=torch.randint(0, 50, (size, 6), generator=g), labels=torch.randint(0, 3, (size, 6), generator=g))
            for _ in range(n)]
