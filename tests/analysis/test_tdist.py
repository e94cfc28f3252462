"""Student's t in pure Python (engine.analysis.tdist) against mpmath at 40 digits and scipy.special:
the p-values and intervals of every table rest on it."""

from __future__ import annotations

import math

import mpmath as mp
import pytest
from scipy.special import stdtr, stdtrit

from engine.analysis.tdist import betainc, t_cdf, t_ppf, t_two_sided_p

mp.mp.dps = 40
DFS = [1, 2, 3, 4, 5, 7, 9, 10, 19, 20, 30, 50, 100, 250]


def exact_cdf(t: float, df: float) -> mp.mpf:
    t, df = mp.mpf(t), mp.mpf(df)
    tail = mp.betainc(df / 2, mp.mpf(1) / 2, 0, df / (df + t * t), regularized=True) / 2
    return 1 - tail if t > 0 else tail


@pytest.mark.parametrize("df", DFS)
def test_the_cdf_and_two_sided_p_agree_with_40_digit_arithmetic(df):
    for t in (-40.0, -15.5, -7.0, -2.0, -1.0, -1e-3, -1e-6, 1e-6, 1e-3, 0.5, 1.0, 2.776, 6.0, 12.0):
        exact = exact_cdf(t, df)
        assert abs(t_cdf(t, df) - exact) / exact < 1e-12, (t, df)
        exact_p = 2 * exact_cdf(-abs(t), df)
        assert abs(t_two_sided_p(t, df) - exact_p) / exact_p < 1e-12, (t, df)
        assert t_cdf(t, df) == pytest.approx(float(stdtr(df, t)), rel=1e-9)  # scipy agrees, less closely


@pytest.mark.parametrize("df", DFS)
def test_the_quantile_inverts_the_cdf(df):
    for q in (1e-6, 0.025, 0.4, 0.6, 0.76, 0.95, 0.975, 0.995, 1 - 1e-9):
        t = t_ppf(q, df)
        exact = mp.findroot(lambda x: exact_cdf(x, df) - q, float(stdtrit(df, q)))
        assert abs(t - exact) / abs(exact) < 1e-10, (q, df)
    assert t_ppf(0.5, df) == 0.0 and t_ppf(0.975, df) == -t_ppf(0.025, df)


def test_known_values_and_edges():
    assert t_ppf(0.975, 4) == pytest.approx(2.7764451051977934, rel=1e-14)  # the 95 % CI of 5 seeds
    assert t_ppf(0.975, 1) == pytest.approx(12.706204736174698, rel=1e-13)
    assert t_two_sided_p(0.0, 3) == 1.0 and math.isnan(t_two_sided_p(math.nan, 3))
    assert t_cdf(math.inf, 2) == 1.0 and t_cdf(-math.inf, 2) == 0.0
    assert t_ppf(0.0, 2) == -math.inf and t_ppf(1.0, 2) == math.inf
    assert betainc(2.0, 3.0, 0.0) == 0.0 and betainc(2.0, 3.0, 1.0) == 1.0
    assert betainc(2.0, 3.0, 0.4) == pytest.approx(float(mp.betainc(2, 3, 0, 0.4, regularized=True)), rel=1e-14)
    for bad in ((0.5, 0), (1.5, 3), (-0.1, 3)):
        with pytest.raises(ValueError):
            t_ppf(*bad)
