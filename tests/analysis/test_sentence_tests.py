"""Sentence-level paired bootstrap: counts agree with seqeval, resampling with a plain loop."""

from __future__ import annotations

import numpy as np
import pytest
from seqeval.metrics import f1_score
from seqeval.scheme import IOB2

from engine.analysis.sentence_tests import (
    accuracy_counts,
    combine,
    corpus_metric,
    ner_counts,
    paired_bootstrap,
    resample_stratum,
    stratum_rng,
)
from engine.data.catalog import task_files
from engine.data.conll import read_conll

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG"]


def noisy(gold: list[list[str]], rate: float, rng: np.random.Generator) -> list[list[str]]:
    """Gold tags with a share of them replaced at random: predictions with every error kind."""
    return [[TAGS[rng.integers(len(TAGS))] if rng.random() < rate else t for t in s] for s in gold]


@pytest.fixture
def swahili(data_env) -> list[list[str]]:
    """Real gold tags: 300 Swahili MasakhaNER test sentences."""
    return [list(s.tags) for s in read_conll(task_files("ner", "masakhaner", "swa").test, limit=300)]


def test_summed_sentence_counts_give_seqevals_strict_f1(swahili):
    rng = np.random.default_rng(0)
    for rate in (0.0, 0.05, 0.3):
        pred = noisy(swahili, rate, rng)
        counts = ner_counts(swahili, pred)
        expected = f1_score(swahili, pred, mode="strict", scheme=IOB2, zero_division=0)
        assert corpus_metric(counts.sum(0)) == pytest.approx(expected, abs=1e-12)


def test_an_i_tag_without_b_is_no_entity_in_the_counts():
    # strict IOB2: "I-PER" alone is not an entity, so it is neither a TP nor an FP
    counts = ner_counts([["B-PER", "O"]], [["I-PER", "O"]])
    assert counts.tolist() == [[0, 0, 1]]


def test_accuracy_counts_sum_to_token_accuracy():
    gold = [["NOUN", "VERB"], ["DET", "NOUN", "PUNCT"]]
    pred = [["NOUN", "NOUN"], ["DET", "NOUN", "PUNCT"]]
    counts = accuracy_counts(gold, pred)
    assert counts.tolist() == [[1, 2], [3, 3]]
    assert corpus_metric(counts.sum(0)) == pytest.approx(4 / 5)


def loop_bootstrap(strata, resamples: int, seed: int) -> np.ndarray:
    """The same resamples drawn the slow way: index the sentences, sum, score."""
    out = np.zeros(resamples)
    for i, (a, b) in enumerate(strata):
        n = a.shape[0]
        rng = stratum_rng(seed, i)
        draws = rng.integers(0, n, size=(resamples, n))  # one block: the module draws the same numbers
        for r in range(resamples):
            out[r] += corpus_metric(a[draws[r]].sum(0)) - corpus_metric(b[draws[r]].sum(0))
    return out / len(strata)


def test_the_vectorised_resamples_equal_a_plain_loop_and_the_p_value_counts_them(swahili):
    rng = np.random.default_rng(1)
    a = ner_counts(swahili, noisy(swahili, 0.05, rng))
    b = ner_counts(swahili, noisy(swahili, 0.10, rng))
    c = ner_counts(swahili[:120], noisy(swahili[:120], 0.08, rng))
    d = ner_counts(swahili[:120], noisy(swahili[:120], 0.08, rng))
    strata = [(a, b), (c, d)]
    result = paired_bootstrap(strata, resamples=400, seed=7)
    deltas = loop_bootstrap(strata, 400, 7)
    observed = np.mean([corpus_metric(x.sum(0)) - corpus_metric(y.sum(0)) for x, y in strata])
    assert result.delta == pytest.approx(observed)
    assert (result.ci_low, result.ci_high) == pytest.approx(tuple(np.quantile(deltas, [0.025, 0.975])))
    extreme = np.count_nonzero(np.abs(deltas - observed) >= abs(observed) - 1e-12)
    assert result.p == pytest.approx((1 + extreme) / 401)
    side = 1 if observed >= 0 else -1
    beyond = np.count_nonzero(side * (deltas - observed) >= side * observed - 1e-12)
    assert result.p_one_sided == pytest.approx((1 + beyond) / 401) and result.side == side
    other = paired_bootstrap(strata, resamples=400, seed=7, direction=-side)
    assert other.p_one_sided == pytest.approx((1 + np.count_nonzero(-side * (deltas - observed) >= -side * observed
                                                                    - 1e-12)) / 401)
    assert result.strata == 2 and result.sentences == 420


def test_a_clear_difference_is_significant_and_identical_systems_are_not(swahili):
    rng = np.random.default_rng(2)
    good = ner_counts(swahili, noisy(swahili, 0.02, rng))
    bad = ner_counts(swahili, noisy(swahili, 0.25, rng))
    clear = paired_bootstrap([(good, bad)], resamples=2000, seed=0)
    assert clear.delta > 0 and clear.ci_low > 0 and clear.p < 0.001
    same = paired_bootstrap([(good, good)], resamples=2000, seed=0)
    assert same.delta == 0 and same.p == 1.0 and same.ci_low == same.ci_high == 0


def test_seeded_results_repeat_and_other_seeds_differ(swahili):
    rng = np.random.default_rng(3)
    a = ner_counts(swahili, noisy(swahili, 0.1, rng))
    b = ner_counts(swahili, noisy(swahili, 0.12, rng))
    first, again = paired_bootstrap([(a, b)], seed=5), paired_bootstrap([(a, b)], seed=5)
    assert first == again
    assert paired_bootstrap([(a, b)], seed=6).ci_low != first.ci_low


def test_misaligned_strata_are_refused():
    with pytest.raises(ValueError, match="stratum 0"):
        paired_bootstrap([(np.zeros((3, 3)), np.zeros((4, 3)))])
    with pytest.raises(ValueError, match="no strata"):
        paired_bootstrap([])


def test_a_strata_resamples_do_not_depend_on_the_other_strata(swahili):
    rng = np.random.default_rng(4)
    a, b = ner_counts(swahili, noisy(swahili, 0.05, rng)), ner_counts(swahili, noisy(swahili, 0.09, rng))
    c, d = ner_counts(swahili, noisy(swahili, 0.07, rng)), ner_counts(swahili, noisy(swahili, 0.07, rng))
    alone = resample_stratum(("swa", 1), a, b, resamples=300, seed=2)
    pooled = [alone, resample_stratum(("swa", 2), c, d, resamples=300, seed=2)]
    assert np.array_equal(alone.deltas, resample_stratum(("swa", 1), a, b, resamples=300, seed=2).deltas)
    both = combine(pooled, seed=2)
    assert both.delta == pytest.approx((alone.observed + pooled[1].observed) / 2) and both.strata == 2
    with pytest.raises(ValueError, match="resampled"):
        combine([alone, resample_stratum(("swa", 2), c, d, resamples=100, seed=2)])
