"""Seeded K-shot sampling (K sentences, or K texts of every class), the split it samples from,
and carving few-shot training data out of a test file.

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

from engine.data.refs import SPLITS, DataError, SplitFiles

__all__ = ["pool_split", "sample_k", "sample_per_class", "sentence_ids"]

S = TypeVar("S")


def pool_split(files: SplitFiles, asked: str | None = None, *, carve_test: bool = True) -> str:
    """The split a few-shot run samples its K from: ``asked`` (the grid's ``pool``), else train, else test.

    Test is the pool only where ``carve_test`` (tagging: UD Yoruba and Amharic ship a test split
    only, the rest of it is evaluated); a sentence task without training data (AfriSenti's
    Oromo, Tigrinya) must name its pool, since carving its test file would change the test set
    every published score uses.
    """
    present = [s for s in SPLITS if files.get(s) is not None]
    if asked is not None:
        if asked not in present:
            raise DataError(f"few-shot pool '{asked}': {_where(files)} has no {asked} split "
                            f"(it has {', '.join(present) or 'none'})")
        return asked
    if files.train is not None:
        return "train"
    if carve_test:
        return "test"
    raise DataError(f"{_where(files)} has no training split to sample few-shot examples from "
                    f"(it has {', '.join(present) or 'none'}); name a pool in the grid, e.g. "
                    f"settings: [{{few-shot: [K], pool: {{LANG: dev}}}}]")


def _where(files: SplitFiles) -> str:
    """The folder of a language's split files, for messages (pool_split knows no language name)."""
    path = next((p for s in SPLITS if (p := files.get(s)) is not None), None)
    return str(path.parent) if path is not None else "this language's data"


def _order(n: int, ids: Sequence[str] | None, what: str) -> list[int]:
    """``range(n)``, sorted by ``ids`` when given (one unique id per item), so file order does not matter."""
    order = list(range(n))
    if ids is not None:
        if len(ids) != n:
            raise ValueError(f"{n} {what} but {len(ids)} ids")
        if len(set(ids)) != n:
            dup = next(i for i, c in Counter(ids).items() if c > 1)
            raise ValueError(f"duplicate id {dup!r}")
        order.sort(key=lambda i: ids[i])
    return order


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")


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
    _check_k(k)
    if k >= n:
        raise ValueError(f"cannot sample k={k} sentences out of {n} and leave any for evaluation (need k < {n})")
    order = _order(n, ids, "sentences")
    random.Random(seed).shuffle(order)
    chosen = sorted(order[:k])
    rest = sorted(order[k:])
    return chosen, rest


def sample_per_class(
    labels: Sequence[str], k: int, seed: int, *, ids: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
) -> tuple[list[int], list[int]]:
    """Pick ``k`` items of every class: ``(sampled indices, other indices)``, both sorted and disjoint.

    ``labels`` holds each item's class; ``classes`` (default: the sorted set of labels) are the
    classes to sample, each needing at least ``k`` items (else ValueError naming it); items of
    other labels stay in the rest. One private random.Random(seed) shuffles each class in
    sorted class order, so the sample depends only on the seed and the data (ordered by ``ids``
    when given), and for one seed the K=5 sample lies inside the K=10 one.
    """
    _check_k(k)
    order = _order(len(labels), ids, "labels")
    wanted = sorted(set(labels) if classes is None else set(classes))
    members: dict[str, list[int]] = {c: [] for c in wanted}
    for i in order:
        if labels[i] in members:
            members[labels[i]].append(i)
    for c in wanted:
        if len(members[c]) < k:
            raise ValueError(f"only {len(members[c])} {c!r} texts, K={k} per class needs {k}")
    rng = random.Random(seed)
    chosen: list[int] = []
    for c in wanted:
        rng.shuffle(members[c])
        chosen += members[c][:k]
    picked = set(chosen)
    return sorted(chosen), [i for i in range(len(labels)) if i not in picked]


def sentence_ids(sentences: Sequence[object]) -> list[str]:
    """Each sentence's ``sent_id`` (UD sentences), else ``"idx:N"`` (its position, NER sentences)."""
    out = []
    for i, s in enumerate(sentences):
        sid = getattr(s, "sent_id", None)
        out.append(sid if isinstance(sid, str) and sid else f"idx:{i}")
    return out
