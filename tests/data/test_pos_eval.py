"""POS accuracy, per-tag accuracy and the confusion matrix against hand-computed values."""

from __future__ import annotations

import json

import pytest

from engine.data.pos_eval import confusion_matrix, pos_scores

GOLD = [["DET", "NOUN", "VERB", "PUNCT"], ["PRON", "VERB", "NOUN", "NOUN", "ADV"]]
PRED = [["DET", "NOUN", "NOUN", "PUNCT"], ["PRON", "AUX", "NOUN", "PROPN", "ADV"]]
# 9 words, wrong: VERB->NOUN, VERB->AUX, NOUN->PROPN => 6 / 9 correct
# NOUN: 3 gold, 2 right; VERB: 2 gold, 0 right; DET PUNCT PRON ADV: 1 gold each, right


def test_accuracy_and_per_tag() -> None:
    s = pos_scores(GOLD, PRED)
    assert s["accuracy"] == pytest.approx(6 / 9)
    assert s["n_words"] == 9
    assert s["accuracy:NOUN"] == pytest.approx(2 / 3) and s["support:NOUN"] == 3
    assert s["accuracy:VERB"] == 0.0 and s["support:VERB"] == 2
    for t in ("DET", "PUNCT", "PRON", "ADV"):
        assert (s[f"accuracy:{t}"], s[f"support:{t}"]) == (1.0, 1.0)
    # tags only predicted (AUX, PROPN) have no recall to report
    assert "accuracy:AUX" not in s and "support:PROPN" not in s
    assert sorted(k for k in s if k.startswith("support:")) == [
        f"support:{t}" for t in ("ADV", "DET", "NOUN", "PRON", "PUNCT", "VERB")
    ]
    assert all(isinstance(v, float) for v in s.values())


def test_perfect_and_empty() -> None:
    s = pos_scores(GOLD, GOLD)
    assert s["accuracy"] == 1.0 and all(v == 1.0 for k, v in s.items() if k.startswith("accuracy:"))
    assert pos_scores([], []) == {"accuracy": 0.0, "n_words": 0.0}
    assert pos_scores([[]], [[]]) == {"accuracy": 0.0, "n_words": 0.0}
    assert confusion_matrix([], []) == {}


def test_micro_not_macro_over_sentences() -> None:
    # a 1-word sentence right and a 3-word sentence wrong: 1/4 (not the 1/2 sentence mean)
    assert pos_scores([["X"], ["X", "X", "X"]], [["X"], ["Y", "Y", "Y"]])["accuracy"] == pytest.approx(0.25)


def test_confusion_matrix() -> None:
    cm = confusion_matrix(GOLD, PRED)
    assert cm == {
        "ADV": {"ADV": 1},
        "DET": {"DET": 1},
        "NOUN": {"NOUN": 2, "PROPN": 1},
        "PRON": {"PRON": 1},
        "PUNCT": {"PUNCT": 1},
        "VERB": {"AUX": 1, "NOUN": 1},
    }
    assert json.loads(json.dumps(cm)) == cm
    assert list(cm) == sorted(cm)
    # consistent with the scores: row sums are the supports, the diagonal the correct words
    s = pos_scores(GOLD, PRED)
    for g, row in cm.items():
        assert sum(row.values()) == s[f"support:{g}"]
        assert row.get(g, 0) / sum(row.values()) == pytest.approx(s[f"accuracy:{g}"])


@pytest.mark.parametrize("fn", [pos_scores, confusion_matrix])
def test_shapes_checked(fn) -> None:
    with pytest.raises(ValueError, match="2 gold sentences but 1 predicted"):
        fn(GOLD, PRED[:1])
    with pytest.raises(ValueError, match="sentence 1: 5 gold tags but 4 predicted"):
        fn(GOLD, [PRED[0], PRED[1][:4]])


def test_module_is_light() -> None:
    import subprocess
    import sys

    code = ("import sys, engine.data.pos_eval, engine.data.fewshot, engine.data.conllu; "
            "print(sorted({'torch', 'numpy', 'sklearn'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
