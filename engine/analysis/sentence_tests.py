"""Sentence-level paired tests: is system A better than B on *these test sentences*?

A seed-level test over 3 seeds can never go below p = 0.25; the test set itself has
hundreds of sentences. Following Dror et al. (2018) and Koehn (2004), a paired
bootstrap resamples test sentences (the same resample for both systems) and recomputes
the corpus-level metric on every resample. Corpus-level F1 is not a mean over
sentences, so each sentence is reduced to its counts (NER: strict IOB2 true positives,
false positives and false negatives, exactly as seqeval counts them; POS: correct and
total tokens; sentence classification: each class's true positives, false positives and
false negatives, whose sums give the support-weighted F1) and a resample's score is
computed from summed counts: one matrix product per block of resamples instead of
calling seqeval 10,000 times. Which counts a task uses is its entry's ``counts`` in
engine.tasks ("entities", "tokens", "classes"); ``unit_counts`` and ``corpus_metric``
take that name, so callers branch on the task table, not on task names.

Pooling over seeds and languages resamples each (language, seed) stratum on its own and
averages the strata's ΔF1 with equal weight (the macro average a paper table reports).
The two-sided p-value is the bootstrap's, with the resampled differences centred on the
observed one so that they describe the null (Efron & Tibshirani 1993, §16.4):
``p = (1 + #{|Δ* − Δ| ≥ |Δ|}) / (R + 1)``. Everything is seeded and reproducible.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["COUNTS", "METHOD", "BootstrapResult", "Stratum", "accuracy_counts", "class_counts", "combine",
           "corpus_metric", "ner_counts", "paired_bootstrap", "resample_stratum", "stratum_rng", "unit_counts"]

METHOD = "paired bootstrap over test sentences (two-sided, centred; Efron & Tibshirani 1993)"
_BLOCK_CELLS = 4_000_000  # resamples × sentences per block: ~32 MB of float64 weights
COUNTS = ("entities", "tokens", "classes")  # engine.tasks' TaskDef.counts values


def ner_counts(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> np.ndarray:
    """Per sentence (TP, FP, FN) of strict IOB2 entities, as seqeval's strict mode counts them."""
    from seqeval.scheme import IOB2, Entities

    from engine.data.ner_eval import check_shapes  # seqeval (and scikit-learn) only when predictions are read

    check_shapes("predicted", gold, pred)
    g = Entities([list(s) for s in gold], IOB2).entities
    p = Entities([list(s) for s in pred], IOB2).entities
    out = np.zeros((len(gold), 3), dtype=np.int64)
    for i, (gs, ps) in enumerate(zip(g, p)):
        true = {e.to_tuple()[1:] for e in gs}
        found = {e.to_tuple()[1:] for e in ps}
        tp = len(true & found)
        out[i] = tp, len(found) - tp, len(true) - tp
    return out


def accuracy_counts(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> np.ndarray:
    """Per sentence (correct, total) tokens: token accuracy (POS) from summed counts."""
    from engine.data.ner_eval import check_shapes

    check_shapes("predicted", gold, pred)
    return np.array([(sum(a == b for a, b in zip(gs, ps)), len(gs)) for gs, ps in zip(gold, pred)],
                    dtype=np.int64).reshape(-1, 2)


def class_counts(gold: Sequence[str], pred: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Per text, for each class c in ``classes`` order, (TP_c, FP_c, FN_c): shape (n, 3·len(classes)).

    Summed over texts they give every class's F1 and support (TP + FN), hence the
    weighted F1 of any resample. A label outside ``classes`` is refused: its text would
    silently lose its support. A and B of one test must share ``classes`` (the task's labels)."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predicted labels")
    index = {c: i for i, c in enumerate(classes)}
    if len(index) != len(classes) or not classes:
        raise ValueError(f"classes must be distinct and at least one, got {list(classes)}")
    unknown = sorted((set(gold) | set(pred)) - index.keys())
    if unknown:
        raise ValueError(f"labels {unknown} are not among the classes {list(classes)}")
    g = np.array([index[x] for x in gold], dtype=np.int64)
    p = np.array([index[x] for x in pred], dtype=np.int64)
    out = np.zeros((len(gold), len(classes), 3), dtype=np.int64)
    rows = np.arange(len(gold))
    hit = g == p
    out[rows[hit], g[hit], 0] = 1  # TP of the gold (= predicted) class
    out[rows[~hit], p[~hit], 1] = 1  # FP of the predicted class
    out[rows[~hit], g[~hit], 2] = 1  # FN of the gold class
    return out.reshape(len(gold), 3 * len(classes))


def unit_counts(counts: str, gold: Sequence, pred: Sequence, classes: Sequence[str] | None = None) -> np.ndarray:
    """Per-unit counts of a task's kind (its engine.tasks entry's ``counts``).

    "entities" and "tokens" take lists of tag lists (``ner_counts``, ``accuracy_counts``);
    "classes" takes flat label lists and needs the task's ``classes`` (``class_counts``)."""
    if counts == "entities":
        return ner_counts(gold, pred)
    if counts == "tokens":
        return accuracy_counts(gold, pred)
    if counts == "classes":
        if classes is None:
            raise ValueError('counts "classes" needs the classes (the same for both systems of a test)')
        return class_counts(gold, pred, classes)
    raise ValueError(f"unknown counts {counts!r} (known: {', '.join(COUNTS)})")


def _weighted_f1(sums: np.ndarray) -> np.ndarray:
    """Support-weighted F1 from summed (TP_c, FP_c, FN_c) per class on the last axis."""
    k = sums.shape[-1] // 3
    per = sums.reshape(*sums.shape[:-1], k, 3)
    tp, fp, fn = per[..., 0], per[..., 1], per[..., 2]
    den = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, den, out=np.zeros_like(den), where=den > 0)
    support = tp + fn
    total = support.sum(-1)
    num = (support * f1).sum(-1)
    return np.divide(num, total, out=np.zeros_like(num), where=total > 0)


def corpus_metric(sums: np.ndarray, counts: str | None = None) -> np.ndarray:
    """The corpus-level metric from summed counts on the last axis; 0 where nothing was counted
    (seqeval's and scikit-learn's zero_division=0).

    ``counts`` (engine.tasks' TaskDef.counts): "entities": F1 from (TP, FP, FN); "tokens":
    accuracy from (correct, total); "classes": weighted F1 from (TP_c, FP_c, FN_c) per class.
    None guesses from the width, as before "classes" existed: 3 columns are entities, 2 tokens."""
    sums = np.asarray(sums, dtype=float)
    width = sums.shape[-1]
    if counts is None:
        if width not in (2, 3):
            raise ValueError(f"counts need 3 columns (TP, FP, FN) or 2 (correct, total), got {width}"
                             f' (pass counts="classes" for per-class counts)')
        counts = "entities" if width == 3 else "tokens"
    if counts == "entities":
        if width != 3:
            raise ValueError(f"entity counts need 3 columns (TP, FP, FN), got {width}")
        num, den = 2 * sums[..., 0], 2 * sums[..., 0] + sums[..., 1] + sums[..., 2]
    elif counts == "tokens":
        if width != 2:
            raise ValueError(f"token counts need 2 columns (correct, total), got {width}")
        num, den = sums[..., 0], sums[..., 1]
    elif counts == "classes":
        if width == 0 or width % 3:
            raise ValueError(f"class counts need 3 columns (TP, FP, FN) per class, got {width}")
        return _weighted_f1(sums)
    else:
        raise ValueError(f"unknown counts {counts!r} (known: {', '.join(COUNTS)})")
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


@dataclass(frozen=True)
class BootstrapResult:
    delta: float  # observed metric(A) − metric(B), averaged over strata (fractions, not %)
    ci_low: float  # percentile confidence interval of that difference
    ci_high: float
    p: float  # two-sided bootstrap p-value
    resamples: int
    seed: int
    strata: int
    sentences: int  # summed over strata
    confidence: float = 0.95
    p_one_sided: float = float("nan")  # H0: the difference is not on ``side`` of 0
    side: int = 0  # +1: A better, −1: B better (the side the one-sided p asks about)
    method: str = METHOD


def _resampled_deltas(a: np.ndarray, b: np.ndarray, resamples: int, rng: np.random.Generator,
                      counts: str | None = None) -> np.ndarray:
    """metric(A*) − metric(B*) on ``resamples`` resamples of one stratum's sentences.

    A resample is a row of multiplicities (how often each sentence was drawn), so the
    summed counts of every resample in a block are one matrix product."""
    n = a.shape[0]
    both = np.concatenate([a, b], axis=1).astype(float)
    k = a.shape[1]
    out = np.empty(resamples)
    block = max(1, _BLOCK_CELLS // n)
    for start in range(0, resamples, block):
        r = min(block, resamples - start)
        draws = rng.integers(0, n, size=(r, n))
        flat = (draws + (np.arange(r) * n)[:, None]).ravel()
        weights = np.bincount(flat, minlength=r * n).reshape(r, n).astype(float)
        sums = weights @ both
        out[start:start + r] = corpus_metric(sums[:, :k], counts) - corpus_metric(sums[:, k:], counts)
    return out


def stratum_rng(seed: int, key: object) -> np.random.Generator:
    """The generator of one stratum: seeded by the test's seed and the stratum's key, so a
    language's resamples do not change when another language or seed joins the table."""
    return np.random.default_rng([seed, zlib.crc32(repr(key).encode())])


@dataclass(frozen=True)
class Stratum:
    """One (language, seed): the observed difference and its resampled differences."""

    key: object
    observed: float
    deltas: np.ndarray = field(repr=False, compare=False)
    sentences: int


def resample_stratum(key: object, a: np.ndarray, b: np.ndarray, *, resamples: int = 10_000, seed: int = 0,
                     counts: str | None = None) -> Stratum:
    """Resample one stratum's sentences (per-sentence counts of A and of B, the same sentences in order);
    ``counts`` names their kind (see ``corpus_metric``)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"stratum {key}: A has counts {a.shape}, B {b.shape}: need the same non-empty sentences")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    observed = float(corpus_metric(a.sum(0), counts) - corpus_metric(b.sum(0), counts))
    return Stratum(key, observed, _resampled_deltas(a, b, resamples, stratum_rng(seed, key), counts), a.shape[0])


def combine(strata: Sequence[Stratum], *, seed: int = 0, confidence: float = 0.95, direction: int = 0
            ) -> BootstrapResult:
    """The equal-weight average of the strata's differences, its percentile CI and p-values.

    ``direction`` (+1 or −1; 0: the observed sign) is the side of the one-sided p-value,
    used by replicability analysis to ask each language about the pooled effect's side."""
    if not strata:
        raise ValueError("no strata to test")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    sizes = {len(s.deltas) for s in strata}
    if len(sizes) != 1:
        raise ValueError(f"strata were resampled {sorted(sizes)} times: combine needs one count")
    deltas = np.mean([s.deltas for s in strata], axis=0)
    delta = float(np.mean([s.observed for s in strata]))
    tail = (1 - confidence) / 2
    low, high = np.quantile(deltas, [tail, 1 - tail])
    resamples = deltas.size
    extreme = np.abs(deltas - delta) >= abs(delta) - 1e-12
    p = float((1 + np.count_nonzero(extreme)) / (resamples + 1))  # at most 1: extreme counts ≤ R
    side = direction or (1 if delta >= 0 else -1)
    # H0: side·Δ ≤ 0; the centred resamples describe it; a Δ on the other side gives p near 1
    beyond = side * (deltas - delta) >= side * delta - 1e-12
    p_one = float((1 + np.count_nonzero(beyond)) / (resamples + 1))
    return BootstrapResult(delta, float(low), float(high), p, resamples, seed, len(strata),
                           sum(s.sentences for s in strata), confidence, p_one, side)


def paired_bootstrap(strata: Sequence[tuple[np.ndarray, np.ndarray]], *, resamples: int = 10_000, seed: int = 0,
                     confidence: float = 0.95, direction: int = 0, counts: str | None = None) -> BootstrapResult:
    """Paired bootstrap of metric(A) − metric(B) over test sentences, pooled over strata.

    ``strata``: per (language, seed), the per-sentence counts of A and of B on the same
    sentences in the same order (``unit_counts``: ``ner_counts``, ``accuracy_counts`` or
    ``class_counts``), of the kind ``counts`` names; stratum i is resampled with
    ``stratum_rng(seed, i)``."""
    done = [resample_stratum(i, a, b, resamples=resamples, seed=seed, counts=counts)
            for i, (a, b) in enumerate(strata)]
    return combine(done, seed=seed, confidence=confidence, direction=direction)
