"""Seeded K-shot sampling, and carving few-shot training data out of a test file.

UD Yoruba-YTB and Amharic-ATT ship a test split only, so their K training sentences
have to come out of that file and the evaluation uses the rest: never train on what
you test. The sample depends only on the seed (a private random.Random, whatever the
global random state) and, when ids are given, on the ids rather than the file order.
For one seed the samples are nested: the K=10 sentences are among the K=20 ones.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from typing import TypeVar

from engine.data.refs import SplitFiles

__all__ = ["pool_split", "sample_k", "sentence_ids"]

S = TypeVar("S")


def pool_split(files: SplitFiles) -> str:
    """The split a few-shot run samples its K sentences from: train, else (UD Yoruba, Amharic) test."""
    return "train" if files.train is not None else "test"


def sample_k(
    sentences: Sequence[S], k: int, seed: int, *, ids: Sequence[str] | None = None
) -> tuple[list[int], list[int]]:
    """Pick ``k`` of ``sentences`` at random: ``(sampled indices, other indices)``, both sorted.

    The two lists are disjoint and together cover ``range(len(sentences))``. With ``ids``
    (one unique id per sentence) the choice is made over the sorted ids, so the same
    seed picks the same sentences however the list is ordered. ``0 <= k < len(sentences)``
    (at least one sentence must be left to evaluate on), else ValueError.
    """
    n = len(sentences)
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    if k >= n:
        raise ValueError(f"cannot sample k={k} sentences out of {n} and leave any for evaluation (need k < {n})")
    order = list(range(n))
    if ids is not None:
        if len(ids) != n:
            raise ValueError(f"{n} sentences but {len(ids)} ids")
        if len(set(ids)) != n:
            dup = next(i for i, c in Counter(ids).items() if c > 1)
            raise ValueError(f"duplicate id {dup!r}")
        order.sort(key=lambda i: ids[i])
    random.Random(seed).shuffle(order)
    chosen = sorted(order[:k])
    rest = sorted(order[k:])
    return chosen, rest


def sentence_ids(sentences: Sequence[object]) -> list[str]:
    """Each sentence's ``sent_id`` (UD sentences), else ``"idx:N"`` (its position, NER sentences)."""
    out = []
    for i, s in enumerate(sentences):
        sid = getattr(s, "sent_id", None)
        out.append(sid if isinstance(sid, str) and sid else f"idx:{i}")
    return out
