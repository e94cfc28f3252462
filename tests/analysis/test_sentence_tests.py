"""Sentence-level paired bootstrap: counts agree with seqeval, resampling with a plain loop."""

from __future__ import annotations

import numpy as np
import pytest
from seqeval.metrics import f1_score
from seqeval.scheme import IOB2
from sklearn.metrics import f1_score as sk_f1

from engine.analysis.sentence_tests import (
    accuracy_counts,
    class_counts,
    combine,
    corpus_metric,
    ner_counts,
    paired_bootstrap,
    resample_stratum,
    stratum_rng,
    unit_counts,
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


def loop_bootstrap(strata, resamples: int, seed: int, counts: str | None = None) -> np.ndarray:
    """The same resamples drawn the slow way: index the sentences, sum, score."""
    out = np.zeros(resamples)
    for i, (a, b) in enumerate(strata):
        n = a.shape[0]
        rng = stratum_rng(seed, i)
        draws = rng.integers(0, n, size=(resamples, n))  # one block: the module draws the same numbers
        for r in range(resamples):
            out[r] += corpus_metric(a[draws[r]].sum(0), counts) - corpus_metric(b[draws[r]].sum(0), counts)
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


# ---- sentence classification (sentiment): per-class counts give the weighted F1 ----

CLASSES = ["negative", "neutral", "positive"]


def noisy_labels(gold: list[str], rate: float, rng: np.random.Generator, labels: list[str]) -> list[str]:
    return [labels[rng.integers(len(labels))] if rng.random() < rate else g for g in gold]


def test_class_counts_are_one_tp_or_one_fp_and_fn_per_text():
    counts = class_counts(["positive", "negative", "neutral"], ["positive", "neutral", "negative"], CLASSES)
    #                  negative   neutral    positive
    assert counts.tolist() == [[0, 0, 0, 0, 0, 0, 1, 0, 0],
                               [0, 0, 1, 0, 1, 0, 0, 0, 0],
                               [0, 1, 0, 0, 0, 1, 0, 0, 0]]
    assert class_counts([], [], CLASSES).shape == (0, 9)


def test_summed_class_counts_give_sklearns_weighted_f1_on_the_set_and_on_a_resample():
    rng = np.random.default_rng(10)
    # "mixed" is a class of the task that is never gold here and "neutral" is never predicted:
    # both weigh as scikit-learn's weighted F1 weighs them
    classes = CLASSES + ["mixed"]
    gold = [CLASSES[i] for i in rng.choice(3, size=400, p=[0.5, 0.3, 0.2])]
    for rate, labels in ((0.0, CLASSES), (0.3, ["negative", "positive", "mixed"]), (0.9, classes)):
        pred = [g if g != "neutral" else "negative" for g in noisy_labels(gold, rate, rng, labels)]
        counts = class_counts(gold, pred, classes)
        expected = sk_f1(gold, pred, average="weighted", zero_division=0)
        assert corpus_metric(counts.sum(0), "classes") == pytest.approx(expected, abs=1e-12)
        draw = rng.integers(0, len(gold), size=len(gold))
        weights = np.bincount(draw, minlength=len(gold))
        resampled = sk_f1([gold[i] for i in draw], [pred[i] for i in draw], average="weighted", zero_division=0)
        assert resampled == pytest.approx(sk_f1(gold, pred, average="weighted", sample_weight=weights,
                                                zero_division=0))
        assert corpus_metric(weights @ counts, "classes") == pytest.approx(resampled, abs=1e-12)
    # rows of resamples at once, and nothing counted gives 0
    rows = np.stack([counts.sum(0), np.zeros(12)])
    assert corpus_metric(rows, "classes").tolist() == pytest.approx([expected, 0.0])


def test_the_class_bootstrap_tests_the_difference_of_weighted_f1s():
    rng = np.random.default_rng(11)
    gold = [CLASSES[i] for i in rng.integers(0, 3, size=250)]
    pred_a, pred_b = noisy_labels(gold, 0.2, rng, CLASSES), noisy_labels(gold, 0.5, rng, CLASSES)
    a, b = unit_counts("classes", gold, pred_a, CLASSES), unit_counts("classes", gold, pred_b, CLASSES)
    strata = [(a, b)]
    result = paired_bootstrap(strata, resamples=500, seed=3, counts="classes")
    expected = (sk_f1(gold, pred_a, average="weighted", zero_division=0)
                - sk_f1(gold, pred_b, average="weighted", zero_division=0))
    assert result.delta == pytest.approx(expected, abs=1e-12) and result.delta > 0
    assert result == paired_bootstrap(strata, resamples=500, seed=3, counts="classes")
    deltas = loop_bootstrap(strata, 500, 3, "classes")
    assert (result.ci_low, result.ci_high) == pytest.approx(tuple(np.quantile(deltas, [0.025, 0.975])))
    assert result.ci_low > 0 and result.p < 0.01 and result.sentences == 250
    assert paired_bootstrap(strata, resamples=500, seed=4, counts="classes").ci_low != result.ci_low
    with pytest.raises(ValueError, match='counts="classes"'):
        paired_bootstrap(strata, resamples=10)  # 9 columns: no width guess


def test_naming_the_counts_of_ner_and_pos_changes_nothing(swahili):
    rng = np.random.default_rng(12)
    a, b = ner_counts(swahili, noisy(swahili, 0.05, rng)), ner_counts(swahili, noisy(swahili, 0.1, rng))
    assert paired_bootstrap([(a, b)], resamples=300, seed=1, counts="entities") == paired_bootstrap(
        [(a, b)], resamples=300, seed=1)
    gold = [["NOUN", "VERB", "DET"][: 1 + i % 3] for i in range(50)]
    pred_a = [["NOUN"] * len(s) for s in gold]
    pred_b = [list(s) if i % 4 else ["X"] * len(s) for i, s in enumerate(gold)]
    c = unit_counts("tokens", gold, pred_a)
    d = unit_counts("tokens", gold, pred_b)
    assert np.array_equal(c, accuracy_counts(gold, pred_a))
    assert np.array_equal(unit_counts("entities", swahili, swahili), ner_counts(swahili, swahili))
    assert paired_bootstrap([(c, d)], resamples=300, seed=1, counts="tokens") == paired_bootstrap(
        [(c, d)], resamples=300, seed=1)


def test_counts_of_the_wrong_kind_or_labels_are_refused():
    with pytest.raises(ValueError, match="unknown counts 'spans'"):
        unit_counts("spans", [], [])
    with pytest.raises(ValueError, match="unknown counts"):
        corpus_metric(np.zeros(3), "spans")
    with pytest.raises(ValueError, match="needs the classes"):
        unit_counts("classes", ["positive"], ["positive"])
    with pytest.raises(ValueError, match=r"\['mixed'\] are not among the classes"):
        class_counts(["positive"], ["mixed"], CLASSES)
    with pytest.raises(ValueError, match="distinct"):
        class_counts(["positive"], ["positive"], ["positive", "positive"])
    with pytest.raises(ValueError, match="1 gold labels but 2"):
        class_counts(["positive"], ["positive", "neutral"], CLASSES)
    with pytest.raises(ValueError, match="entity counts need 3"):
        corpus_metric(np.zeros(2), "entities")
    with pytest.raises(ValueError, match="token counts need 2"):
        corpus_metric(np.zeros(3), "tokens")
    with pytest.raises(ValueError, match="per class"):
        corpus_metric(np.zeros(4), "classes")
