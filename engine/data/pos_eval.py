"""Token-level POS tagging scores and a confusion matrix (pure Python, JSON-ready).

Scores are over words (the reader already dropped multiword-token lines and empty
nodes), micro-averaged: every word counts once, whatever its sentence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

__all__ = ["confusion_matrix", "pos_scores"]


def _check_shapes(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted sentences")
    for i, (g, p) in enumerate(zip(gold, pred)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted tags")


def _pairs(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> Counter[tuple[str, str]]:
    _check_shapes(gold, pred)
    return Counter((g, p) for gs, ps in zip(gold, pred) for g, p in zip(gs, ps))


def pos_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, float]:
    """Word accuracy and per-gold-tag accuracy, fractions in [0, 1].

    Keys: ``accuracy`` (correct words / all words), ``n_words``, and for every tag T
    found in gold: ``accuracy:T`` (correct words among those whose gold tag is T, i.e.
    the recall of T) and ``support:T`` (how many gold words are T). A tag that is only
    predicted has no key (its errors already lower the gold tags' accuracies). With no
    words at all the accuracy is 0.0.
    """
    pairs = _pairs(gold, pred)
    support: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    for (g, p), n in pairs.items():
        support[g] += n
        if g == p:
            correct[g] += n
    n_words = sum(support.values())
    out = {
        "accuracy": sum(correct.values()) / n_words if n_words else 0.0,
        "n_words": float(n_words),
    }
    for t in sorted(support):
        out[f"accuracy:{t}"] = correct[t] / support[t]
        out[f"support:{t}"] = float(support[t])
    return out


def confusion_matrix(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, dict[str, int]]:
    """``{gold tag: {predicted tag: count}}`` with only the non-zero cells, keys sorted.

    Plain dicts of str -> int, so ``json.dumps`` stores it and ``json.loads`` gives it back equal.
    """
    out: dict[str, dict[str, int]] = {}
    for (g, p), n in sorted(_pairs(gold, pred).items()):
        out.setdefault(g, {})[p] = n
    return out
