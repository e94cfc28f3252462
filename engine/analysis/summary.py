"""Mean ± SD with a t-interval, and macro averages over languages: the numbers of a score table.

Pure Python (the t quantile is ``engine.analysis.tdist``): a table of means needs
neither numpy (~0.13 s to import) nor scipy, so ``xltui results`` prints its score
tables without them; the paired tests in ``engine.analysis.stats`` use numpy.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from engine.analysis.tdist import t_ppf

__all__ = ["ALPHA", "MacroAverage", "Summary", "macro_average", "sample_sd", "sorted_keys", "summarize"]

ALPHA = 0.05  # level used only for plain-language notes ("not significant by design", power)
NAN = float("nan")


def as_floats(values: Iterable[float], what: str = "values") -> list[float]:
    """Floats; nan is refused because it silently poisons every statistic."""
    x = [float(v) for v in values]
    if any(math.isnan(v) for v in x):
        raise ValueError(f"{what} contain nan")
    return x


def sample_sd(x: Sequence[float]) -> float:
    """Sample SD (ddof=1), exactly 0 for identical values (a naive formula gives ~1e-17 for [0.1]*3)."""
    n = len(x)
    if n < 2:
        return NAN
    if max(x) == min(x):
        return 0.0
    mean = sum(x) / n
    return math.sqrt(sum((v - mean) ** 2 for v in x) / (n - 1))


def sorted_keys(keys: Iterable[Hashable]) -> tuple:
    """Sorted keys; falls back to repr order when keys are not mutually comparable (e.g. 1 and '1')."""
    keys = list(keys)
    try:
        return tuple(sorted(keys))
    except TypeError:
        return tuple(sorted(keys, key=repr))


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    sd: float  # sample SD (ddof=1); nan when n < 2
    ci_low: float  # two-sided t-based CI of the mean; nan when n < 2
    ci_high: float


def summarize(values: Iterable[float], confidence: float = 0.95) -> Summary:
    """Mean, SD and t-based CI: with 3-10 seeds the normal approximation is far too narrow."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    x = as_floats(values)
    n = len(x)
    mean = sum(x) / n if n else NAN
    sd = sample_sd(x)
    if n < 2:
        return Summary(n, mean, sd, NAN, NAN)
    half = t_ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return Summary(n, mean, sd, mean - half, mean + half)


@dataclass(frozen=True)
class MacroAverage:
    summary: Summary  # over the per-seed macro averages of complete seeds only
    per_seed: dict[Hashable, float]  # seed -> mean over languages (complete seeds only)
    n_complete: int
    n_seeds: int  # seeds seen in any language
    incomplete: tuple  # seeds missing at least one language (sorted)


def macro_average(
    scores: Mapping[str, Mapping[Hashable, float]], languages: Sequence[str] | None = None
) -> MacroAverage:
    """Average over languages per seed, then over seeds.

    Only seeds that have every language count: averaging a seed that lacks a hard
    language would inflate the macro score. ``scores[language][seed] = value``.
    """
    langs = list(scores) if languages is None else list(languages)
    if not langs:
        raise ValueError("no languages to average over")
    seeds = {s for lang in langs for s in scores.get(lang, {})}
    per_seed: dict[Hashable, float] = {}
    incomplete = []
    for seed in sorted_keys(seeds):
        if all(seed in scores.get(lang, {}) for lang in langs):
            vals = as_floats((scores[lang][seed] for lang in langs), f"scores for seed {seed!r}")
            per_seed[seed] = sum(vals) / len(vals)
        else:
            incomplete.append(seed)
    return MacroAverage(summarize(list(per_seed.values())), per_seed, len(per_seed), len(seeds),
                        tuple(incomplete))


def holm_mark(p_holm: float) -> str:
    """‡ below 0.01, † below α, else nothing (nan: nothing): the mark after a Holm-adjusted p."""
    return "‡" if p_holm < 0.01 else "†" if p_holm < ALPHA else ""
