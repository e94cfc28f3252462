"""engine.analysis.stats against numbers computed independently of the code under test.

Expected values are literals worked out by hand (shown in comments) or by brute-force
enumeration with itertools.product written here; Student-t values use the closed-form
CDFs for 1 df (Cauchy: F(t) = 1/2 + atan(t)/pi) and 3 df
(F(t) = 1/2 + (u/(1+u^2) + atan u)/pi, u = t/sqrt 3), not scipy.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from engine.analysis.stats import (
    cohens_dav,
    cohens_dz,
    compare,
    holm,
    macro_average,
    pair_up,
    paired_permutation_test,
    paired_t_test,
    summarize,
)

approx = pytest.approx


def brute_p(diffs: list[float], ndigits: int | None = 10) -> float:
    """Two-sided sign-flip p by plain enumeration; ndigits=None reproduces the naive float version."""
    d = [round(x, ndigits) for x in diffs] if ndigits is not None else list(diffs)
    obs = abs(sum(d))
    tol = 1e-9 if ndigits is not None else 0.0
    hits = sum(abs(sum(s * x for s, x in zip(signs, d))) >= obs - tol
               for signs in itertools.product((1, -1), repeat=len(d)))
    return hits / 2 ** len(d)


def t3_cdf(t: float) -> float:
    u = t / math.sqrt(3)
    return 0.5 + (u / (1 + u * u) + math.atan(u)) / math.pi


def test_t3_closed_form_is_right() -> None:
    # sanity of the reference itself: symmetric, and the textbook table value t(0.975, 3) = 3.182446
    assert t3_cdf(0.0) == 0.5
    assert t3_cdf(3.182446) == approx(0.975, abs=1e-7)


# ----------------------------------------------------------------------------- summarize


def test_summarize_known_vector() -> None:
    # [1,2,3,4]: mean 2.5; SS = 2.25+0.25+0.25+2.25 = 5, sd = sqrt(5/3) = 1.2909944;
    # half-width = t(0.975,3) * sd / sqrt(4) = 3.1824463 * 0.6454972 = 2.0542603
    s = summarize([1, 2, 3, 4])
    assert s.n == 4 and s.mean == 2.5
    assert s.sd == approx(1.2909944487, abs=1e-9)
    assert s.ci_low == approx(2.5 - 2.0542602568, abs=1e-8)
    assert s.ci_high == approx(2.5 + 2.0542602568, abs=1e-8)


def test_summarize_small_and_degenerate() -> None:
    one = summarize([7.5])
    assert one.n == 1 and one.mean == 7.5
    assert all(math.isnan(v) for v in (one.sd, one.ci_low, one.ci_high))
    empty = summarize([])
    assert empty.n == 0 and math.isnan(empty.mean)
    same = summarize([0.1, 0.1, 0.1])  # numpy alone gives sd ~1.7e-17 here
    assert same.sd == 0.0 and same.ci_low == same.ci_high == same.mean
    with pytest.raises(ValueError):
        summarize([1.0, float("nan")])
    with pytest.raises(ValueError):
        summarize([1.0, 2.0], confidence=1.0)


# ----------------------------------------------------------------------------- macro average


def test_macro_average_drops_incomplete_seed() -> None:
    scores = {"swa": {0: 70.0, 1: 72.0, 2: 74.0}, "yor": {0: 60.0, 1: 64.0}}
    m = macro_average(scores)
    # seed 0: (70+60)/2 = 65, seed 1: (72+64)/2 = 68; seed 2 lacks yor
    assert m.per_seed == {0: 65.0, 1: 68.0}
    assert (m.n_complete, m.n_seeds, m.incomplete) == (2, 3, (2,))
    # mean 66.5, sd = sqrt(2 * 1.5^2 / 1) = 2.1213203; t(0.975,1) = tan(0.475 pi) = 12.7062047,
    # half-width = 12.7062047 * 2.1213203 / sqrt 2 = 12.7062047 * 1.5 = 19.0593071
    assert m.summary.n == 2 and m.summary.mean == 66.5
    assert m.summary.sd == approx(2.1213203436, abs=1e-9)
    assert m.summary.ci_high - 66.5 == approx(1.5 * math.tan(0.475 * math.pi), abs=1e-7)
    assert 1.5 * math.tan(0.475 * math.pi) == approx(19.0593071, abs=1e-6)


def test_macro_average_language_without_scores_makes_all_incomplete() -> None:
    scores = {"swa": {0: 70.0, 1: 72.0}, "yor": {0: 60.0, 1: 64.0}}
    m = macro_average(scores, languages=["swa", "yor", "hau"])
    assert (m.n_complete, m.n_seeds, m.incomplete) == (0, 2, (0, 1))
    assert m.per_seed == {} and m.summary.n == 0 and math.isnan(m.summary.mean)
    sub = macro_average(scores, languages=["swa"])  # a subset of languages is fine
    assert sub.per_seed == {0: 70.0, 1: 72.0} and sub.n_complete == 2


# ----------------------------------------------------------------------------- pairing


def test_pair_up_missing_keys_on_both_sides() -> None:
    p = pair_up({3: 1.0, 1: 2.0, 5: 3.0, 7: 4.0}, {1: 0.5, 3: 0.5, 9: 9.0})
    assert p.keys == (1, 3) and p.only_a == (5, 7) and p.only_b == (9,)
    assert p.a.tolist() == [2.0, 1.0] and p.b.tolist() == [0.5, 0.5]
    assert p.n_pairs == 2 and p.n_dropped == 3


# ----------------------------------------------------------------------------- permutation test


@pytest.mark.parametrize(
    ("diffs", "expected"),
    [
        # +-1+-2+-3 -> 6,0,2,-4,4,-2,0,-6: |s| >= 6 twice of 8
        ([1, 2, 3], 0.25),
        ([-1, -2, -3], 0.25),  # two-sided: mirror image, same p
        # obs 5; multiset {1,1,2,3} (total 7), flipping a subset of sum S gives 7-2S;
        # |7-2S| >= 5 iff S <= 1 (3 subsets: {}, {1}, {1'}) or S >= 6 (3 subsets) -> 6/16
        ([1, -1, 2, 3], 0.375),
        # a zero diff changes no sum: same 4 hits now among 16 vectors
        ([0, 1, 2, 3], 0.25),
        # ties at the observed value count: obs 2, sums of +-2+-1+-1 are 4,2,2,0,0,-2,-2,-4 -> 6/8
        ([2, 1, -1], 0.75),
        ([1, 1, 1, 1], 0.125),  # only all-plus / all-minus reach 4: 2/16
        ([0, 0, 0], 1.0),  # every sum is 0 >= 0
        ([1, 2, -3], 1.0),  # observed sum 0
    ],
)
def test_exact_permutation_hand_counts(diffs: list[float], expected: float) -> None:
    r = paired_permutation_test(diffs)
    assert r.p == expected and brute_p(diffs) == expected
    assert r.exact and r.n_permutations == 2 ** len(diffs)
    assert r.p_min == 2.0 ** (1 - len(diffs))


def test_permutation_float_noise() -> None:
    a, b = [79.3, 80.1, 78.8], [79.4, 80.2, 78.9]
    d = [x - y for x, y in zip(a, b)]  # all -0.10000000000000853: noise is identical, no harm here
    assert paired_permutation_test(d).p == 0.25
    # one difference the other way: nominal -0.1,-0.1,-0.1,+0.1, obs |sum| 0.2; every sign vector
    # except the 6 two-plus/two-minus ones reaches 0.2 -> 10/16 = 0.625
    a, b = [79.3, 80.1, 78.8, 80.0], [79.4, 80.2, 78.9, 79.9]
    d = [x - y for x, y in zip(a, b)]
    assert d[3] != -d[0]  # 0.09999999999999432 vs -0.10000000000000853
    assert paired_permutation_test(d).p == 0.625 == brute_p(d)
    assert brute_p(d, ndigits=None) == 0.25  # the naive unrounded count misses the 8 tied vectors


def test_exact_permutation_n20_is_vectorised() -> None:
    r = paired_permutation_test([1.0] * 20)
    assert r.exact and r.n_permutations == 2**20 and r.p == 2 / 2**20 == r.p_min
    assert paired_permutation_test([1.0] * 10 + [-1.0] * 10).p == 1.0


def test_monte_carlo_path() -> None:
    d = [0.5 + 0.01 * i for i in range(25)]  # all positive: true p = 2**-24, so no resample reaches it
    r = paired_permutation_test(d, n_resamples=1000, seed=3)
    assert not r.exact and r.n_permutations == 1000
    assert r.p == 1 / 1001 and r.p >= 1 / (r.n_permutations + 1)
    assert r.p_min == 2.0**-24
    mixed = [(-1) ** i * (0.1 * i) for i in range(25)]
    r1 = paired_permutation_test(mixed, n_resamples=2000, seed=7)
    assert r1 == paired_permutation_test(mixed, n_resamples=2000, seed=7)  # seeded: reproducible
    assert r1.p >= 1 / 2001


def test_monte_carlo_close_to_brute_force() -> None:
    d = [0.5, -0.2, 1.1, 0.3, -0.7, 0.9, 0.4, -0.1, 0.6, 0.2, -0.3, 0.8]  # sum 3.5
    exact = brute_p(d)  # 4096 sign vectors by itertools.product
    assert paired_permutation_test(d).p == exact
    R = 20_000
    mc = paired_permutation_test(d, max_exact=5, n_resamples=R, seed=11)
    assert not mc.exact and mc.n_permutations == R
    se = math.sqrt(exact * (1 - exact) / R)
    assert abs(mc.p - exact) < 4 * se + 1 / R


def test_permutation_edge_cases() -> None:
    r = paired_permutation_test([])
    assert math.isnan(r.p)
    with pytest.raises(ValueError):
        paired_permutation_test([1.0, float("nan")])


# ----------------------------------------------------------------------------- t-test and effect sizes


def test_paired_t_test_against_closed_form() -> None:
    a, b = [2, 4, 6, 8], [1, 2, 3, 4]  # diffs [1,2,3,4]
    # t = 2.5 / (sqrt(5/3)/2) = sqrt(15) = 3.8729833, df 3; p = 2(1 - F3(t)): u = t/sqrt3 = sqrt5,
    # u/(1+u^2) = sqrt5/6 = 0.3726780, atan(sqrt5) = 1.1502620 -> F = 0.5 + 1.5229400/pi = 0.9847669
    # -> p = 0.0304663
    r = paired_t_test(a, b)
    assert r.note is None and r.df == 3
    assert r.t == approx(math.sqrt(15), abs=1e-9)
    assert r.p == approx(2 * (1 - t3_cdf(math.sqrt(15))), abs=1e-10)
    assert r.p == approx(0.0304663, abs=1e-7)
    assert paired_t_test(b, a).t == approx(-math.sqrt(15), abs=1e-9)


def test_paired_t_test_undefined_is_nan_never_zero() -> None:
    # scipy.stats.ttest_rel gives t = -inf, p = 0.0 here
    r = paired_t_test([79.3, 80.1, 78.8], [79.4, 80.2, 78.9])
    assert math.isnan(r.t) and math.isnan(r.p) and "equal" in r.note and r.df == 2
    r = paired_t_test([1.0, 1.0], [1.0, 1.0])
    assert math.isnan(r.p) and r.note
    r = paired_t_test([1.0], [0.0])
    assert math.isnan(r.t) and math.isnan(r.p) and "fewer than 2" in r.note
    with pytest.raises(ValueError):
        paired_t_test([1.0, 2.0], [1.0])


def test_effect_sizes() -> None:
    # d_z = 2.5 / sqrt(5/3) = 1.9364917
    assert cohens_dz([1, 2, 3, 4]) == approx(1.9364916731, abs=1e-9)
    assert cohens_dz([-1, -2, -3, -4]) == approx(-1.9364916731, abs=1e-9)
    # d_av for a=[2,4,6,8], b=[1,2,3,4]: sd(a) = 2 sqrt(5/3), sd(b) = sqrt(5/3), mean 1.5 sqrt(5/3)
    # -> 2.5 / (1.5 * 1.2909944) = 1.2909944
    assert cohens_dav([2, 4, 6, 8], [1, 2, 3, 4]) == approx(1.2909944487, abs=1e-9)
    assert math.isnan(cohens_dz([0.1, 0.1, 0.1]))
    assert math.isnan(cohens_dz([79.3 - 79.4, 80.1 - 80.2, 78.8 - 78.9]))
    assert math.isnan(cohens_dz([1.0]))
    assert math.isnan(cohens_dav([1, 1, 1], [2, 2, 2]))
    assert math.isnan(cohens_dav([1.0], [2.0]))
    assert cohens_dav([1, 1, 1], [0, 1, 2]) == 0.0  # mean diff 0, denominator (0 + 1)/2


# ----------------------------------------------------------------------------- holm


def test_holm_hand_example() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 times 4,3,2,1 -> 0.02, 0.03, 0.06, 0.04; running max
    # -> 0.02, 0.03, 0.06, 0.06; back in input order:
    assert holm([0.01, 0.04, 0.03, 0.005]) == approx([0.03, 0.06, 0.06, 0.02], abs=1e-15)


def test_holm_monotone_capped_and_nan() -> None:
    p = [0.2, 0.5, 0.01, 0.9, 0.04]
    adj = holm(p)
    order = np.argsort(p)
    assert all(np.diff(np.asarray(adj)[order]) >= 0)  # monotone in the raw p
    assert all(a >= r for a, r in zip(adj, p)) and max(adj) <= 1.0
    # m=5: 0.01*5=0.05, 0.04*4=0.16, 0.2*3=0.6, 0.5*2=1.0, 0.9*1 -> max so far 1.0
    assert adj == approx([0.6, 1.0, 0.05, 1.0, 0.16])
    # nan is kept and not counted: m = 2 -> 0.01*2 = 0.02, 0.04*1 -> 0.04
    out = holm([0.04, float("nan"), 0.01])
    assert out[0] == approx(0.04) and math.isnan(out[1]) and out[2] == approx(0.02)
    assert holm([]) == [] and holm([0.7]) == [0.7]
    with pytest.raises(ValueError):
        holm([1.5])


def test_holm_matches_a_brute_force_definition() -> None:
    """Holm by its definition: reject H_(i) at level a iff p_(j) <= a/(m-j+1) for all j <= i;
    the adjusted p is the smallest a at which H_i is rejected (searched on a fine grid)."""
    p = [0.01, 0.04, 0.03, 0.005, 0.2, 0.6]
    order = sorted(range(len(p)), key=p.__getitem__)
    grid = [k / 100_000 for k in range(100_001)]

    def rejected(i: int, a: float) -> bool:
        rank = order.index(i)
        return all(p[order[j]] <= a / (len(p) - j) for j in range(rank + 1))

    brute = [next(a for a in grid if rejected(i, a)) for i in range(len(p))]
    assert holm(p) == approx(brute, abs=1e-5)


# ----------------------------------------------------------------------------- compare


def test_compare_end_to_end() -> None:
    a = {1: 81.0, 2: 82.0, 3: 83.0, 4: 90.0}
    b = {1: 80.0, 2: 80.0, 3: 80.0, 5: 70.0}
    c = compare(a, b)
    # pairs 1,2,3 -> diffs [1,2,3]; seeds 4 (a only) and 5 (b only) dropped
    assert (c.n_pairs, c.n_dropped) == (3, 2)
    assert c.mean_diff == 2.0
    # sd 1; 2 df has F(t) = 1/2 + t/(2 sqrt(2+t^2)), so t(0.975,2) solves t/sqrt(2+t^2) = 0.95:
    # t = sqrt(2 * 0.9025 / 0.0975) = 4.3026527; half-width = 4.3026527 / sqrt3 = 2.4841377
    assert math.sqrt(2 * 0.9025 / 0.0975) / math.sqrt(3) == approx(2.4841377, abs=1e-7)
    assert c.ci_high - 2.0 == approx(2.4841377, abs=1e-6) and c.ci_low == approx(2 - 2.4841377, abs=1e-6)
    assert c.permutation.p == 0.25 and c.permutation.p_min == 0.25
    # t = 2 / (1/sqrt3) = 3.4641016, df 2, p = 1 - t/sqrt(2+t^2) = 1 - 3.4641016/3.7416574 = 0.0741799
    assert c.t_test.t == approx(3.4641016, abs=1e-6) and c.t_test.p == approx(0.0741799, abs=1e-6)
    assert c.d_z == approx(2.0)  # 2 / 1
    # d_av: sd(a) over 81,82,83 = 1, sd(b) = 0 -> 2 / 0.5 = 4
    assert c.d_av == approx(4.0)
    text = " | ".join(c.notes)
    assert "2 unpaired runs dropped" in text and "only in a: 4" in text and "only in b: 5" in text
    assert "cannot go below 0.25 with 3 pairs" in text and "not significant by design at 0.05" in text


def test_compare_constant_shift_and_no_pairs() -> None:
    c = compare({s: v for s, v in enumerate([79.3, 80.1, 78.8])}, {s: v for s, v in enumerate([79.4, 80.2, 78.9])})
    assert c.n_dropped == 0 and c.mean_diff == approx(-0.1) and c.permutation.p == 0.25
    assert math.isnan(c.t_test.p) and math.isnan(c.d_z)
    assert any("t-test: all differences are equal" in n for n in c.notes)
    many = compare({s: 1.0 + s for s in range(6)}, {s: 0.0 for s in range(6)})
    assert many.permutation.p_min == 2.0**-5 and not any("by design" in n for n in many.notes)
    none = compare({1: 1.0}, {2: 1.0})
    assert none.n_pairs == 0 and none.n_dropped == 2 and math.isnan(none.permutation.p)
    assert any("no paired runs" in n for n in none.notes)
