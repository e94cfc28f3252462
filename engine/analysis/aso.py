"""Almost Stochastic Order (Dror et al. 2019, "Deep Dominance"), through the ``deepsig`` library.

Seed-level scores of deep models are distributions, not points: ASO asks how far the
score distribution of system A is from stochastically dominating B's, and returns
ε_min, an upper bound on the violation ratio at a confidence level (Bonferroni over
the comparisons of a table, as ``deepsig.aso(num_comparisons=…)`` does). The authors
recommend claiming A better than B when ε_min < τ = 0.2 (Ulmer et al. 2022).

deepsig imports scipy.stats and pandas (~2 s) and bootstraps in Python (seconds per
comparison), so ``xltui results`` runs it only on request (``--aso``) and imports it
here, lazily. Pooled rows compare the (language, seed) scores of all languages after
removing each language's mean over both systems: the spread between languages is not
a difference between systems and would otherwise hide it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["TAU", "AsoResult", "aso_eps_min", "centred_by_language"]

TAU = 0.2  # the rejection threshold the deepsig authors recommend for ε_min
METHOD = "ASO (Dror et al. 2019), deepsig.aso"


@dataclass(frozen=True)
class AsoResult:
    eps_min: float  # 0: A dominates B; 1: B dominates A; < TAU: claim A better
    confidence: float
    comparisons: int  # Bonferroni factor applied by deepsig
    iterations: int
    seed: int
    n_a: int
    n_b: int
    method: str = METHOD

    @property
    def dominant(self) -> bool:
        return not math.isnan(self.eps_min) and self.eps_min < TAU


def centred_by_language(a: Mapping[tuple[str, object], float], b: Mapping[tuple[str, object], float]
                        ) -> tuple[list[float], list[float]]:
    """(language, seed) -> score of A and B, minus each language's mean over both systems."""
    langs = {k[0] for k in a} | {k[0] for k in b}
    mean = {}
    for lang in langs:
        vals = [v for k, v in a.items() if k[0] == lang] + [v for k, v in b.items() if k[0] == lang]
        mean[lang] = sum(vals) / len(vals)
    return ([v - mean[k[0]] for k, v in sorted(a.items(), key=repr)],
            [v - mean[k[0]] for k, v in sorted(b.items(), key=repr)])


def aso_eps_min(a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95, comparisons: int = 1,
                iterations: int = 1000, seed: int = 0) -> AsoResult:
    """ε_min of "A is better than B" from deepsig (nan when either side has fewer than 2 scores)."""
    if len(a) < 2 or len(b) < 2:
        return AsoResult(math.nan, confidence, comparisons, iterations, seed, len(a), len(b))
    import numpy as np
    from deepsig import aso

    eps = aso(np.asarray(a, dtype=float), np.asarray(b, dtype=float), confidence_level=confidence,
              num_comparisons=max(1, comparisons), num_bootstrap_iterations=iterations, show_progress=False,
              seed=seed)
    return AsoResult(float(eps), confidence, comparisons, iterations, seed, len(a), len(b))
