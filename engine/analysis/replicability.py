"""In how many target languages does the effect hold? Partial-conjunction replicability.

Holm answers *which* languages show an effect; a reader of a cross-lingual paper also
asks *how many* (Dror et al. 2017, "Replicability Analysis for Natural Language
Processing"). For N per-language p-values, the partial-conjunction null "the effect
holds in fewer than u languages" is tested by combining the N − u + 1 largest
p-values (Benjamini & Heller 2008):

    Bonferroni:  p^(u/N) = (N − u + 1) · p_(u)                  (any dependence)
    Fisher:      p^(u/N) = P(χ²_{2(N−u+1)} ≥ −2 Σ_{i ≥ u} ln p_(i))  (independent p-values)

The p^(u/N) are made non-decreasing in u and the estimate is k̂ = the largest u with
p^(u/N) ≤ α: because the nulls are nested, testing them in order controls the
family-wise error of the claim "at least k̂ languages" at α. Test sets of different
languages are disjoint, so Fisher's independence holds for sentence-level p-values;
for seed-level tests the same seeds are used in every language, so Bonferroni is the
safe default there. Pure Python: the χ² survival function with an even number of
degrees of freedom is a finite sum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["METHODS", "Replicability", "chi2_sf_even", "partial_conjunction", "replicability"]

METHODS = ("bonferroni", "fisher")


def chi2_sf_even(x: float, df: int) -> float:
    """P(χ²_df ≥ x) for even df: e^{-x/2} Σ_{j<df/2} (x/2)^j / j!, summed in logs."""
    if df <= 0 or df % 2:
        raise ValueError(f"df must be a positive even number, got {df}")
    if x <= 0:
        return 1.0
    half = x / 2
    term, total = 1.0, 1.0
    for j in range(1, df // 2):
        term *= half / j
        total += term
    return min(1.0, math.exp(-half + math.log(total)))


def partial_conjunction(pvalues: Sequence[float], method: str = "bonferroni") -> list[float]:
    """p^(u/N) for u = 1..N, made non-decreasing in u."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    p = sorted(float(x) for x in pvalues)
    if any(not 0 <= x <= 1 for x in p):
        raise ValueError(f"p-values must lie in [0, 1], got {p}")
    n = len(p)
    out, running = [], 0.0
    for u in range(1, n + 1):
        rest = p[u - 1:]
        if method == "bonferroni":
            value = min(1.0, (n - u + 1) * p[u - 1])
        else:
            stat = -2 * sum(math.log(max(x, 1e-300)) for x in rest)
            value = chi2_sf_even(stat, 2 * len(rest))
        running = max(running, value)
        out.append(running)
    return out


@dataclass(frozen=True)
class Replicability:
    k: int  # the effect holds in at least k of n languages (at level alpha)
    n: int
    method: str
    alpha: float
    pvalues: tuple[float, ...]  # p^(u/N), u = 1..N

    def describe(self) -> str:
        return f"{self.k} of {self.n}"


def replicability(pvalues: Sequence[float], *, method: str = "bonferroni", alpha: float = 0.05) -> Replicability:
    """k̂: the number of languages in which the effect holds, at family-wise level ``alpha``.

    nan p-values (a language without paired runs) are left out of N."""
    kept = [p for p in pvalues if not math.isnan(p)]
    pc = partial_conjunction(kept, method)
    k = sum(1 for x in pc if x <= alpha)
    return Replicability(k, len(kept), method, alpha, tuple(pc))
