"""Shapiro–Wilk, partial-conjunction replicability and seed power, each against an independent
computation: scipy.stats (imported here only), hand-computed small cases, and brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.stats as st

from engine.analysis.normality import shapiro_wilk
from engine.analysis.power import _rejection_rate, p_min, seeds_for_holm, seeds_for_power
from engine.analysis.replicability import chi2_sf_even, partial_conjunction, replicability
from engine.analysis.stats import compare, paired_permutation_test


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7, 8, 11, 12, 20, 50, 200])
def test_shapiro_wilk_matches_scipy(n):
    rng = np.random.default_rng(n)
    for sample in (rng.standard_normal(n), rng.exponential(size=n), rng.uniform(size=n), np.r_[rng.normal(size=n - 1), 9.0]):
        ours, theirs = shapiro_wilk(sample), st.shapiro(sample)
        assert ours.w == pytest.approx(theirs.statistic, abs=1e-6)
        assert ours.p == pytest.approx(theirs.pvalue, abs=1e-6)


def test_shapiro_wilk_says_when_it_cannot_answer():
    assert math.isnan(shapiro_wilk([1.0, 2.0]).p) and "at least 3" in shapiro_wilk([1.0, 2.0]).note
    flat = shapiro_wilk([0.1, 0.1, 0.1 + 1e-15])  # float noise is not spread
    assert math.isnan(flat.w) and flat.note == "all values are equal"


def test_compare_carries_normality_of_the_differences():
    a = {s: 0.8 + 0.01 * s for s in range(8)}
    b = {s: 0.7 + (0.3 if s == 0 else 0.0) for s in range(8)}  # one huge difference: not normal
    res = compare(a, b)
    expected = st.shapiro([a[s] - b[s] for s in range(8)])
    assert res.normality.p == pytest.approx(expected.pvalue, abs=1e-6) and res.normality.p < 0.05
    assert any("Shapiro-Wilk" in note for note in res.notes)


@pytest.mark.parametrize("df", [2, 4, 10, 38])
def test_chi2_survival_with_even_df_matches_scipy(df):
    for x in (0.0, 0.5, 3.0, 20.0, 90.0):
        assert chi2_sf_even(x, df) == pytest.approx(st.chi2.sf(x, df), rel=1e-10, abs=1e-300)


def test_partial_conjunction_by_hand():
    p = [0.001, 0.01, 0.04, 0.5]
    # Bonferroni: (N - u + 1) * p_(u): 0.004, 0.03, 0.08, 0.5 (already non-decreasing)
    assert partial_conjunction(p, "bonferroni") == pytest.approx([0.004, 0.03, 0.08, 0.5])
    fisher = partial_conjunction(p, "fisher")
    raw = [st.chi2.sf(-2 * sum(math.log(x) for x in sorted(p)[u:]), 2 * (4 - u)) for u in range(4)]
    assert fisher == pytest.approx(list(np.maximum.accumulate(raw)))
    rep = replicability(p, method="bonferroni")
    assert (rep.k, rep.n, rep.describe()) == (2, 4, "2 of 4")
    assert replicability([0.2, 0.3, math.nan]).n == 2  # a language without pairs leaves N


def test_design_floor_of_the_seed_level_test():
    for languages in (1, 3, 10, 19):
        brute = next(n for n in itertools.count(1) if p_min(n) <= 0.05 / languages)
        assert seeds_for_holm(languages) == brute
    assert seeds_for_holm(10) == 9  # the arithmetic: Holm over 10 languages needs 9 seeds
    assert seeds_for_holm(3, languages=10) == 1  # 10 languages pooled: 10 pairs per seed


def test_rejection_rate_is_the_exact_sign_flip_test_row_by_row():
    rng = np.random.default_rng(3)
    draws = rng.normal(0.3, 1.0, size=(60, 7))
    expected = np.mean([paired_permutation_test(row).p <= 0.05 for row in draws])
    assert _rejection_rate(draws, 0.05) == pytest.approx(expected)


def test_seeds_for_power_follows_the_effect_and_is_reproducible():
    clear = seeds_for_power({"swa": [0.02, 0.025, 0.03]}, 0.05 / 10)
    assert clear.seeds == 9 and clear.power >= 0.8  # every resample agrees in sign: the design floor decides
    noisy = seeds_for_power({"swa": [0.02, -0.03, 0.01]}, 0.05)
    assert noisy.seeds is None and noisy.describe() == ">30"
    medium = {"swa": [0.01, 0.03, -0.005, 0.02], "yor": [0.02, 0.0, 0.015, 0.01]}
    first, again = seeds_for_power(medium, 0.05, seed=7), seeds_for_power(medium, 0.05, seed=7)
    assert first == again and first.seeds is not None and 2 <= first.seeds < 30
    harder = seeds_for_power(medium, 0.05 / 20, seed=7)
    assert harder.seeds is None or harder.seeds >= first.seeds  # a stricter level never needs fewer seeds
