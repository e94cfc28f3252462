"""Sentiment scores against scikit-learn (an independent implementation) and the predictions file."""

from __future__ import annotations

import json
import random
import re

import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from engine.data.sentiment_eval import (
    classification_scores,
    label_confusion,
    read_label_predictions,
    write_label_predictions,
)

CLASSES = ["negative", "neutral", "positive"]

# "neutral" is gold 3 times but never predicted; "mixed" is predicted once but never gold
GOLD = ["positive", "positive", "negative", "neutral", "neutral", "neutral", "negative", "positive", "negative"]
PRED = ["positive", "negative", "negative", "positive", "negative", "positive", "negative", "positive", "mixed"]


def sklearn_scores(gold: list[str], pred: list[str]) -> dict[str, float]:
    """The same keys as classification_scores, computed by scikit-learn with its default labels."""
    labels = sorted(set(gold) | set(pred))
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    out = {
        "weighted_f1": f1_score(gold, pred, average="weighted", zero_division=0),
        "macro_f1": f1_score(gold, pred, average="macro", zero_division=0),
        "accuracy": accuracy_score(gold, pred),
        "n_texts": float(len(gold)),
    }
    for i, c in enumerate(labels):
        out.update({f"precision:{c}": p[i], f"recall:{c}": r[i], f"f1:{c}": f[i], f"support:{c}": float(s[i])})
    return out


def assert_matches_sklearn(gold: list[str], pred: list[str]) -> dict[str, float]:
    ours, theirs = classification_scores(gold, pred), sklearn_scores(gold, pred)
    assert sorted(ours) == sorted(theirs)
    for k, v in theirs.items():
        assert ours[k] == pytest.approx(float(v), abs=1e-12), k
    assert all(isinstance(v, float) and 0 <= v <= max(1, len(gold)) for v in ours.values())
    return ours


def test_hand_made_predictions_match_sklearn_and_hand_computed_values() -> None:
    s = assert_matches_sklearn(GOLD, PRED)
    # by hand: negative TP 2 FP 2 FN 1 -> F1 4/7; positive TP 2 FP 2 FN 1 -> 4/7; neutral 0; mixed 0
    assert s["f1:negative"] == pytest.approx(4 / 7) and s["f1:positive"] == pytest.approx(4 / 7)
    assert s["f1:neutral"] == 0.0 and s["recall:neutral"] == 0.0 and s["precision:neutral"] == 0.0
    assert (s["support:neutral"], s["support:mixed"]) == (3.0, 0.0)
    assert s["accuracy"] == pytest.approx(4 / 9)
    # weighted: the never-gold class weighs 0 -> (3·4/7 + 3·0 + 3·4/7) / 9
    assert s["weighted_f1"] == pytest.approx(24 / 63)
    # macro: over gold ∪ pred, so both the never-predicted and the never-gold class count (as 0)
    assert s["macro_f1"] == pytest.approx((4 / 7 + 4 / 7) / 4)
    assert s["n_texts"] == 9.0


def test_perfect_single_class_and_empty() -> None:
    s = assert_matches_sklearn(GOLD, GOLD)
    assert s["weighted_f1"] == s["macro_f1"] == s["accuracy"] == 1.0
    assert assert_matches_sklearn(["neutral"] * 4, ["neutral"] * 4)["weighted_f1"] == 1.0
    # nothing right: every F1 is 0, with no division by zero
    assert assert_matches_sklearn(["positive", "negative"], ["negative", "positive"])["weighted_f1"] == 0.0
    assert classification_scores([], []) == {"weighted_f1": 0.0, "macro_f1": 0.0, "accuracy": 0.0, "n_texts": 0.0}


def test_a_random_larger_sample_matches_sklearn() -> None:
    rng = random.Random(20240611)
    for n in (1, 7, 500):
        gold = rng.choices(CLASSES, weights=[5, 3, 2], k=n)
        # mostly right, some errors, and now and then a label only the system uses
        pred = [g if rng.random() < 0.6 else rng.choice(CLASSES + ["mixed"]) for g in gold]
        assert_matches_sklearn(gold, pred)


def test_length_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="3 gold labels but 2 predicted"):
        classification_scores(["a", "b", "c"], ["a", "b"])
    with pytest.raises(ValueError, match="gold labels"):
        write_label_predictions("unused.tsv", ["a"], [])


def test_label_confusion_counts_gold_rows_and_is_json_ready() -> None:
    m = label_confusion(GOLD, PRED)
    assert m == {
        "negative": {"mixed": 1, "negative": 2},
        "neutral": {"negative": 1, "positive": 2},
        "positive": {"negative": 1, "positive": 2},
    }
    assert json.loads(json.dumps(m)) == m
    assert label_confusion([], []) == {}


def test_predictions_round_trip(tmp_path) -> None:
    path = tmp_path / "predictions.tsv"
    write_label_predictions(path, GOLD, PRED)
    assert path.read_text(encoding="utf-8").splitlines()[:2] == ["positive\tpositive", "positive\tnegative"]
    assert read_label_predictions(path) == (GOLD, PRED)
    assert not (tmp_path / "predictions.tsv.tmp").exists()
    write_label_predictions(path, [], [])  # replaces the file whole
    assert read_label_predictions(path) == ([], [])


@pytest.mark.parametrize("bad", ["", "very positive", "pos\titive", "pos\nitive"])
def test_labels_that_would_not_read_back_are_refused(tmp_path, bad) -> None:
    path = tmp_path / "p.tsv"
    with pytest.raises(ValueError, match="text 1"):
        write_label_predictions(path, ["positive", bad], ["positive", "negative"])
    with pytest.raises(ValueError, match="text 0"):
        write_label_predictions(path, ["positive"], [bad])
    assert not path.exists()


@pytest.mark.parametrize("line", ["positive\n", "positive\tnegative\tneutral\n", "\tnegative\n", "\n",
                                  "positive negative\n"])
def test_a_malformed_line_is_named_by_path_and_line(tmp_path, line) -> None:
    path = tmp_path / "p.tsv"
    path.write_text("negative\tnegative\n" + line + "neutral\tneutral\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"{path}:2")):
        read_label_predictions(path)
