"""How many seeds? What a seed-level test can reach by design, and what the observed variance needs.

Two questions a reviewer asks about a seed-level comparison:

* **Before running** (pure arithmetic): the exact two-sided sign-flip test over n
  paired seeds can never give p below 2^(1−n). Holm over L languages compares the
  smallest p with α/L, so a per-language claim needs 2^(1−n) ≤ α/L, i.e.
  n ≥ 1 + log2(L/α): 9 seeds for 10 languages at α = 0.05, whatever the effect.
* **After results exist** (a bootstrap power analysis, as in Dror et al. 2019 and
  deepsig's ``bootstrap_power_analysis``, but asking for the number of seeds): draw
  n seeds' paired differences with replacement from the observed ones (per language,
  so a pooled test keeps its languages), run the sign-flip test at the level it will
  face (α/L per language under Holm, α/F for F pooled comparisons), and report the
  smallest n whose rejection rate reaches 80 %. The test is exact up to 10
  units and uses its normal approximation (z = Σd / √Σd², the permutation
  distribution's own mean and variance) beyond. Seeded, so it is reproducible.
  With 3 observed seeds the bootstrap knows little about the spread: the answer is
  a guide for planning, and the caption says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

__all__ = ["SeedPower", "p_min", "seeds_for_holm", "seeds_for_power"]

_EXACT = 10  # units up to which the sign-flip test is enumerated (2**10 patterns)
POWER = 0.8


def p_min(n_pairs: int) -> float:
    """The smallest two-sided p the exact sign-flip test can give with ``n_pairs`` pairs."""
    return 2.0 ** (1 - n_pairs) if n_pairs > 0 else math.nan


def seeds_for_holm(n_tests: int, alpha: float = 0.05, languages: int = 1) -> int:
    """Seeds needed so that the smallest possible p (over ``languages`` × seeds pairs) clears
    Holm's first threshold α / ``n_tests``: the design's floor, not a power statement."""
    if n_tests < 1 or languages < 1:
        raise ValueError("n_tests and languages must be positive")
    units = 1 + math.ceil(math.log2(n_tests / alpha) - 1e-12)
    return max(1, math.ceil(units / languages))


@dataclass(frozen=True)
class SeedPower:
    seeds: int | None  # smallest number of seeds (per language) reaching the target power; None: not within max
    power: float  # power at ``seeds`` (or at max_seeds when None)
    level: float  # the significance level the test faces (after the multiple-comparison correction)
    target: float
    max_seeds: int
    resamples: int
    seed: int

    def describe(self) -> str:
        return f"{self.seeds}" if self.seeds is not None else f">{self.max_seeds}"


def _rejection_rate(draws, level: float) -> float:
    """Share of rows (each a resampled set of paired differences) the sign-flip test rejects at ``level``."""
    import numpy as np

    n = draws.shape[1]
    scale = np.abs(draws).max()
    d = np.rint(draws / scale * 1e9) if scale > 0 else draws  # integer-valued: ties are exact
    observed = np.abs(d.sum(1))
    if n <= _EXACT:
        bits = np.arange(n)
        signs = 1.0 - 2.0 * ((np.arange(1 << n)[:, None] >> bits) & 1)
        sums = np.abs(d @ signs.T)  # resamples × 2**n
        p = (sums >= observed[:, None] - 0.5).mean(1)
    else:
        spread = np.sqrt((d ** 2).sum(1))
        z = np.divide(observed, spread, out=np.zeros_like(observed), where=spread > 0)
        return float((z >= NormalDist().inv_cdf(1 - level / 2)).mean())  # p <= level, two-sided
    return float((p <= level).mean())


def seeds_for_power(diffs: Mapping[str, Sequence[float]], level: float, *, target: float = POWER,
                    max_seeds: int = 30, resamples: int = 1000, seed: int = 0) -> SeedPower:
    """Smallest seeds per language at which the sign-flip test over all languages' pairs rejects
    at ``level`` in at least ``target`` of the bootstrap resamples.

    ``diffs``: language -> observed paired differences (one per seed)."""
    import numpy as np

    pools = [np.asarray(v, dtype=float) for v in diffs.values() if len(v)]
    if not pools:
        return SeedPower(None, math.nan, level, target, max_seeds, resamples, seed)
    rng = np.random.default_rng(seed)
    power = 0.0
    for n in range(2, max_seeds + 1):
        draws = np.concatenate([pool[rng.integers(0, len(pool), size=(resamples, n))] for pool in pools], axis=1)
        if p_min(draws.shape[1]) > level:  # the design cannot reject: power 0, no need to test
            power = 0.0
            continue
        power = _rejection_rate(draws, level)
        if power >= target:
            return SeedPower(n, power, level, target, max_seeds, resamples, seed)
    return SeedPower(None, power, level, target, max_seeds, resamples, seed)
