"""Student's t distribution, exactly enough for p-values and confidence intervals, in pure Python.

``scipy.special`` answers the same questions but costs ~0.2 s to import, more than the
whole of ``xltui results`` may take. The CDF is the regularized incomplete beta
function, evaluated by its continued fraction (modified Lentz, as in Numerical Recipes
§6.4): the tails as I_x(df/2, 1/2) with x = df / (df + t²), the centre as
I_y(1/2, df/2) with y = t² / (df + t²), so neither cancels. It agrees with
``scipy.special.stdtr``/``stdtrit`` to 1e-12 relative for df ≤ 250 (tests/analysis/test_tdist.py
checks a grid; the lgamma differences lose a little more for larger df). The quantile
solves on the precise side by Newton steps, bracketed so it cannot wander.
"""

from __future__ import annotations

import math
from functools import lru_cache

_EPS = 1e-16
_TINY = 1e-300
_MAX_TERMS = 10_000


def _beta_cf(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (converges fast for x < (a + 1) / (a + b + 2))."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_TERMS):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def betainc(a: float, b: float, x: float, y: float | None = None) -> float:
    """The regularized incomplete beta function I_x(a, b), for a, b > 0 and 0 ≤ x ≤ 1.

    ``y`` is 1 - x computed without rounding where the caller can (t²/(df + t²) is exact
    where 1 - df/(df + t²) is not): near x = 1 all the information is in y.
    """
    y = 1.0 - x if y is None else y
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise ValueError(f"x = {x} is outside [0, 1]")
    if x == 0.0 or y == 0.0:
        return 0.0 if x == 0.0 else 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_cf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_cf(b, a, y) / b


def _tail(t: float, df: float) -> float:
    """P(|T| ≥ t) for t ≥ 0: precise in the tails (where p-values live)."""
    return betainc(df / 2.0, 0.5, df / (df + t * t), t * t / (df + t * t))


def _centre(t: float, df: float) -> float:
    """P(|T| < t) for t ≥ 0: precise near 0, where 1 - tail would cancel."""
    return betainc(0.5, df / 2.0, t * t / (df + t * t), df / (df + t * t))


def _density(t: float, df: float) -> float:
    return math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
                    - (df + 1) / 2 * math.log1p(t * t / df))


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with ``df`` degrees of freedom (``scipy.special.stdtr(df, t)``)."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    if math.isnan(t):
        return math.nan
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * _tail(abs(t), df)  # P(T ≤ -|t|), precise to its last digit at any size
    return 1.0 - tail if t > 0 else tail


def t_two_sided_p(t: float, df: float) -> float:
    """P(|T| ≥ |t|): the two-sided p-value of a t statistic."""
    if math.isnan(t):
        return math.nan
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    return 1.0 if t == 0 else min(1.0, _tail(abs(t), df))


@lru_cache(maxsize=1024)  # a table asks for the same (0.975, n − 1) in most of its cells
def t_ppf(q: float, df: float) -> float:
    """The t with P(T ≤ t) = q (``scipy.special.stdtrit(df, q)``)."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    if not 0.0 < q < 1.0:
        if q in (0.0, 1.0):
            return -math.inf if q == 0.0 else math.inf
        raise ValueError(f"q = {q} is outside (0, 1)")
    if q == 0.5:
        return 0.0
    if q < 0.5:
        return -t_ppf(1.0 - q, df)
    # solve on the side that is precise: the centre (|T| < t) has mass 2q - 1, a tail 2(1 - q)
    centre = 2.0 * q - 1.0 < 0.5
    target = 2.0 * q - 1.0 if centre else 2.0 * (1.0 - q)
    f = (lambda t: _centre(t, df) - target) if centre else (lambda t: target - _tail(t, df))
    lo, hi = 0.0, 1.0
    while f(hi) < 0:  # bracket: f rises with t
        lo, hi = hi, hi * 2.0
        if hi > 1e300:
            return math.inf
    x = (lo + hi) / 2.0
    for _ in range(300):
        fx = f(x)
        if fx == 0:
            return x
        if fx > 0:
            hi = x
        else:
            lo = x
        slope = 2.0 * _density(x, df)
        step = x - fx / slope if slope > 0 else (lo + hi) / 2.0
        x_new = step if lo < step < hi else (lo + hi) / 2.0  # Newton inside the bracket, else bisect
        if abs(x_new - x) <= 4e-16 * abs(x) or hi - lo <= 4e-16 * abs(x):
            return x_new
        x = x_new
    return x
