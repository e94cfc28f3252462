"""Significance statistics for seed-paired cross-lingual comparisons.

Pure functions on numbers (no DB, no torch) so every figure in a paper table can be
recomputed and tested in isolation. scipy.stats supplies the distributions; the
permutation test and Holm correction are written out here because the scipy
versions either break ties on float noise or implement a different correction.
The t distribution is ``engine.analysis.tdist`` (pure Python, checked against mpmath
and scipy.special): importing ``scipy.stats`` costs seconds and ``scipy.special`` 0.2 s,
and ``xltui results`` must answer in about half a second.

Scores such as 79.3 - 79.4 are not exactly -0.1 in floating point, so differences
are rounded to ``decimals`` before anything that compares them for equality (ties
in the permutation test, "all differences equal" for the t-test and d_z).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engine.analysis.normality import ShapiroWilk, shapiro_wilk
from engine.analysis.summary import ALPHA, MacroAverage, Summary, macro_average, sample_sd, sorted_keys, summarize
from engine.analysis.tdist import t_two_sided_p

__all__ = ["ALPHA", "MacroAverage", "PairedComparison", "Pairing", "PermutationTest", "Summary", "TTest",
           "cohens_dav", "cohens_dz", "compare", "holm", "macro_average", "pair_up",
           "paired_permutation_test", "paired_t_test", "summarize"]

_CHUNK = 1 << 16  # sign vectors per block: bounds memory at n=20 (2**19 rows after symmetry)
NAN = float("nan")


def _array(values: Iterable[float], what: str = "values") -> np.ndarray:
    """1-D float array; nan is refused because it silently poisons every statistic."""
    x = np.asarray(list(values), dtype=float).reshape(-1)
    if np.isnan(x).any():
        raise ValueError(f"{what} contain nan")
    return x


def _sd(x: np.ndarray) -> float:
    """Sample SD (ddof=1) that is exactly 0 for identical values."""
    return sample_sd(x.tolist())


_sorted = sorted_keys


@dataclass(frozen=True)
class Pairing:
    keys: tuple  # matched keys, sorted
    a: np.ndarray
    b: np.ndarray
    only_a: tuple  # keys only in a (dropped), sorted
    only_b: tuple

    @property
    def n_pairs(self) -> int:
        return len(self.keys)

    @property
    def n_dropped(self) -> int:
        return len(self.only_a) + len(self.only_b)


def pair_up(a: Mapping[Hashable, float], b: Mapping[Hashable, float]) -> Pairing:
    """Match runs by key (usually the seed): a paired test on unmatched runs is meaningless."""
    keys = _sorted(set(a) & set(b))
    return Pairing(keys, np.array([a[k] for k in keys], dtype=float), np.array([b[k] for k in keys], dtype=float),
                   _sorted(set(a) - set(b)), _sorted(set(b) - set(a)))


@dataclass(frozen=True)
class PermutationTest:
    p: float
    exact: bool
    n_permutations: int  # 2**n when exact, R when Monte Carlo
    p_min: float  # smallest p the design can reach: 2**(1-n) for n pairs


def _scaled(diffs: np.ndarray, decimals: int) -> tuple[np.ndarray, float]:
    """Diffs in units of 10**-decimals (integer-valued floats) plus a tie tolerance.

    Integer-valued sums are exact in float64 below 2**53, so a tolerance of half a
    unit separates true ties from distinct sums; beyond that a relative one is used.
    """
    d = np.rint(diffs * 10.0**decimals)
    total = float(np.abs(d).sum())
    return d, max(0.5, total * 1e-12)


def _count_exact(d: np.ndarray, observed: float, tol: float) -> int:
    """Sign vectors (of all 2**n) with |sum| >= observed; enumerates half and doubles (s and -s tie)."""
    n = d.size
    rest = d[1:]
    bits = np.arange(n - 1)
    half = 1 << (n - 1)
    count = 0
    for start in range(0, half, _CHUNK):
        idx = np.arange(start, min(start + _CHUNK, half), dtype=np.int64)
        signs = 1.0 - 2.0 * ((idx[:, None] >> bits) & 1)  # rows: every sign pattern of d[1:]
        sums = d[0] + signs @ rest
        count += int(np.count_nonzero(np.abs(sums) >= observed - tol))
    return 2 * count


def paired_permutation_test(
    diffs: Sequence[float], *, max_exact: int = 20, n_resamples: int = 100_000, seed: int = 0,
    decimals: int = 10,
) -> PermutationTest:
    """Two-sided sign-flip test, statistic |sum of diffs|.

    Assumes only that each pair's difference is symmetric under H0, which holds for
    seed-matched runs without normality. Exact for n <= max_exact; otherwise Monte
    Carlo with p = (b + 1) / (R + 1) so an estimate is never 0. n = 0 gives nan.
    """
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    x = _array(diffs, "differences")
    n = int(x.size)
    if n == 0:
        return PermutationTest(p=NAN, exact=True, n_permutations=0, p_min=NAN)
    p_min = 2.0 ** (1 - n)
    d, tol = _scaled(x, decimals)
    observed = abs(float(d.sum()))
    if n <= max_exact:
        return PermutationTest(p=_count_exact(d, observed, tol) / 2**n, exact=True, n_permutations=2**n, p_min=p_min)
    rng = np.random.default_rng(seed)
    b, total = 0, float(d.sum())
    for start in range(0, n_resamples, _CHUNK):
        m = min(_CHUNK, n_resamples - start)
        # one random bit per pair from random bytes (10x cheaper than an int64 per sign):
        # sum(s_i d_i) with s_i = 1 - 2 bit_i is total - 2 sum(bit_i d_i), exact for integer-valued d
        flips = np.unpackbits(rng.integers(0, 256, size=(m, (n + 7) // 8), dtype=np.uint8), axis=1, count=n)
        sums = total - 2.0 * (flips.astype(np.float64) @ d)
        b += int(np.count_nonzero(np.abs(sums) >= observed - tol))
    return PermutationTest(p=(b + 1) / (n_resamples + 1), exact=False, n_permutations=n_resamples, p_min=p_min)


@dataclass(frozen=True)
class TTest:
    t: float
    p: float
    df: int
    note: str | None  # why t/p are nan, if they are


def paired_t_test(a: Sequence[float], b: Sequence[float], *, decimals: int = 10) -> TTest:
    """scipy.stats.ttest_rel (the same t and two-sided p), but nan (not inf/p=0) with a note when t is undefined.

    Constant differences (e.g. 79.3-79.4 on every seed) make scipy report p = 0.0,
    which would read as "highly significant"; they are detected after rounding.
    """
    x, y = _array(a, "a"), _array(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"a has {x.size} values but b has {y.size}")
    n = int(x.size)
    df = max(n - 1, 0)
    if n < 2:
        return TTest(NAN, NAN, df, "fewer than 2 pairs: t is undefined")
    d = np.round(x - y, decimals)
    if np.ptp(d) == 0:
        return TTest(NAN, NAN, df, "all differences are equal: t is undefined")
    t = float(np.mean(d) / (np.std(d, ddof=1) / math.sqrt(n)))  # == ttest_rel(a, b) on the rounded differences
    return TTest(t, t_two_sided_p(t, df), df, None)


def cohens_dz(diffs: Sequence[float], *, decimals: int = 10) -> float:
    """Standardised mean difference of paired diffs (mean/SD); nan when SD is 0 or n < 2."""
    d = np.round(_array(diffs, "differences"), decimals)
    sd = _sd(d)
    if d.size < 2 or sd == 0:
        return NAN
    return float(np.mean(d)) / sd


def cohens_dav(a: Sequence[float], b: Sequence[float], *, decimals: int = 10) -> float:
    """mean(a-b) over the average of the two SDs: comparable with unpaired effect sizes."""
    x, y = _array(a, "a"), _array(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"a has {x.size} values but b has {y.size}")
    if x.size < 2:
        return NAN
    denom = (_sd(x) + _sd(y)) / 2
    if denom == 0:
        return NAN
    return float(np.mean(np.round(x - y, decimals))) / denom


@dataclass(frozen=True)
class PairedComparison:
    n_pairs: int
    n_dropped: int
    mean_diff: float  # mean of a - b
    ci_low: float  # t-based 95% CI of the mean difference
    ci_high: float
    permutation: PermutationTest
    t_test: TTest
    d_z: float
    d_av: float
    notes: tuple[str, ...]  # plain-language warnings for the report
    normality: ShapiroWilk | None = None  # of the paired differences: is the t-test's assumption plausible?


def _keys(keys: tuple) -> str:
    return ", ".join(map(str, keys))


def compare(
    a: Mapping[Hashable, float], b: Mapping[Hashable, float], *, max_exact: int = 20,
    n_resamples: int = 100_000, seed: int = 0, decimals: int = 10,
) -> PairedComparison:
    """Everything a table row needs for system a vs b, paired by key (seed)."""
    pairing = pair_up(a, b)
    diffs = np.round(pairing.a - pairing.b, decimals)
    summary = summarize(diffs)
    perm = paired_permutation_test(diffs, max_exact=max_exact, n_resamples=n_resamples, seed=seed,
                                   decimals=decimals)
    tt = paired_t_test(pairing.a, pairing.b, decimals=decimals)
    notes: list[str] = []
    if pairing.n_dropped:
        parts = [f"only in a: {_keys(pairing.only_a)}" if pairing.only_a else "",
                 f"only in b: {_keys(pairing.only_b)}" if pairing.only_b else ""]
        runs = "run" if pairing.n_dropped == 1 else "runs"
        notes.append(f"{pairing.n_dropped} unpaired {runs} dropped ({'; '.join(p for p in parts if p)})")
    n = pairing.n_pairs
    if n == 0:
        notes.append("no paired runs: nothing to compare")
    elif perm.p_min > ALPHA:
        notes.append(f"p cannot go below {perm.p_min:.3g} with {n} pair{'s' if n != 1 else ''}: "
                     f"not significant by design at {ALPHA:g}")
    if n and not perm.exact:
        notes.append(f"permutation p is a Monte Carlo estimate from {perm.n_permutations} random sign flips")
    if tt.note and n:
        notes.append(f"t-test: {tt.note}")
    normality = shapiro_wilk(diffs, decimals=decimals)
    if normality.p < ALPHA:
        notes.append(f"Shapiro-Wilk rejects normal differences (W = {normality.w:.3f}, p = {normality.p:.3g}): "
                     f"the t-test's assumption is doubtful, read the permutation p")
    return PairedComparison(n, pairing.n_dropped, summary.mean, summary.ci_low, summary.ci_high, perm, tt,
                            cohens_dz(diffs, decimals=decimals),
                            cohens_dav(pairing.a, pairing.b, decimals=decimals), tuple(notes), normality)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in input order; nan stays nan and is not counted in m.

    Controls the family-wise error over all language pairs without assuming
    independence (scipy's false_discovery_control is Benjamini-Hochberg, not Holm).
    """
    p = np.asarray(list(pvalues), dtype=float).reshape(-1)
    ok = ~np.isnan(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise ValueError("p-values must lie in [0, 1]")
    out = np.full(p.shape, NAN)
    idx = np.flatnonzero(ok)
    m = idx.size
    if m:
        order = idx[np.argsort(p[idx], kind="stable")]
        adj = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
        out[order] = adj
    return [float(v) for v in out]
