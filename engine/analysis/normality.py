"""Shapiro–Wilk test of normality, for choosing between the t-test and the permutation test.

The paired t-test assumes normal paired differences; with 3–10 seeds that is rarely
checkable, but a clear violation should be visible in the table (Dror et al. 2018
pick the test by checking its assumptions). ``scipy.stats.shapiro`` computes the same
statistic, but importing ``scipy.stats`` costs seconds, more than ``xltui results``
may take. This is Royston's algorithm AS R94 (1995), the one scipy's ``swilk`` runs,
written out in numpy and the standard library's ``NormalDist``;
tests/analysis/test_significance_extras.py checks it against scipy on many samples (n = 3 … 200).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = ["ShapiroWilk", "shapiro_wilk"]

_N = NormalDist()
# polynomial coefficients of AS R94 (lowest power first)
_C1 = (0.0, 0.221157, -0.147981, -2.07119, 4.434685, -2.706056)
_C2 = (0.0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633)
_C3 = (0.544, -0.39978, 0.025054, -6.714e-4)
_C4 = (1.3822, -0.77857, 0.062767, -0.0020322)
_C5 = (-1.5861, -0.31082, -0.083751, 0.0038915)
_C6 = (-0.4803, -0.082676, 0.0030302)
_G = (-2.273, 0.459)
MAX_N = 5000  # AS R94's range


def _poly(coef: Sequence[float], x: float) -> float:
    return sum(c * x ** i for i, c in enumerate(coef))


@dataclass(frozen=True)
class ShapiroWilk:
    n: int
    w: float  # nan when the test is undefined (n < 3, or all values equal)
    p: float
    note: str = ""


def _coefficients(n: int) -> np.ndarray:
    """The weights a_1..a_{n/2} of the largest-minus-smallest order statistic differences."""
    half = n // 2
    if n == 3:
        return np.array([math.sqrt(0.5)])
    m = np.array([_N.inv_cdf((i - 0.375) / (n + 0.25)) for i in range(1, half + 1)])  # negative: lower half
    summ2 = 2 * float(m @ m)
    ssumm2 = math.sqrt(summ2)
    rsn = 1 / math.sqrt(n)
    a = -m / ssumm2
    a1 = _poly(_C1, rsn) - m[0] / ssumm2
    if n > 5:
        a2 = -m[1] / ssumm2 + _poly(_C2, rsn)
        fac = math.sqrt((summ2 - 2 * m[0] ** 2 - 2 * m[1] ** 2) / (1 - 2 * a1 ** 2 - 2 * a2 ** 2))
        a = -m / fac
        a[0], a[1] = a1, a2
    else:
        fac = math.sqrt((summ2 - 2 * m[0] ** 2) / (1 - 2 * a1 ** 2))
        a = -m / fac
        a[0] = a1
    return a


def _p_value(w: float, n: int) -> float:
    if n == 3:  # exact: W is at least 0.75 for three points
        return max(0.0, min(1.0, 6 / math.pi * (math.asin(math.sqrt(w)) - math.pi / 3)))
    w1 = math.log1p(-w) if w < 1 else -math.inf
    if n <= 11:
        gamma = _poly(_G, n)
        if w1 >= gamma:
            return 1e-99
        y = -math.log(gamma - w1)
        m, s = _poly(_C3, n), math.exp(_poly(_C4, n))
    else:
        xx = math.log(n)
        y, m, s = w1, _poly(_C5, xx), math.exp(_poly(_C6, xx))
    if math.isinf(y):  # W == 1: as normal as a sample can look
        return 1.0
    return 1 - _N.cdf((y - m) / s)


def shapiro_wilk(values: Sequence[float], *, decimals: int = 10) -> ShapiroWilk:
    """W and its p-value; small p: the values are unlikely to come from a normal distribution.

    Values are rounded to ``decimals`` first (as the paired tests do), so float noise
    in equal differences does not pass for spread."""
    x = np.sort(np.round(np.asarray(values, dtype=float).reshape(-1), decimals))
    n = int(x.size)
    if n < 3:
        return ShapiroWilk(n, math.nan, math.nan, f"needs at least 3 values, got {n}")
    if n > MAX_N:
        return ShapiroWilk(n, math.nan, math.nan, f"AS R94 is defined up to {MAX_N} values, got {n}")
    if x[-1] == x[0]:
        return ShapiroWilk(n, math.nan, math.nan, "all values are equal")
    a = _coefficients(n)
    half = n // 2
    numerator = float(a @ (x[::-1][:half] - x[:half])) ** 2
    ssq = float(((x - x.mean()) ** 2).sum())
    w = min(1.0, numerator / ssq)
    return ShapiroWilk(n, w, _p_value(w, n))
