"""Strict IOB2 entity scores against hand-computed values, and stored predictions."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from engine.data.conll import read_conll
from engine.data.ner_eval import ner_scores, read_predictions, write_predictions
from tests.support.env import DATA

NER = DATA / "ner"


def _no_warnings(gold, pred) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return ner_scores(gold, pred)


def test_boundary_and_position_errors_count_as_fp_and_fn() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["B-ORG", "O", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC"], ["O", "O", "B-ORG"]]
    # gold {PER 0-1, LOC 3, ORG s2:0}; pred {PER 0-1, LOC 3-4, ORG s2:2}: 1 TP, 2 FP, 2 FN
    s = _no_warnings(gold, pred)
    assert s["precision"] == pytest.approx(1 / 3)
    assert s["recall"] == pytest.approx(1 / 3)
    assert s["f1"] == pytest.approx(1 / 3)
    assert (s["f1:PER"], s["precision:PER"], s["recall:PER"], s["support:PER"]) == (1.0, 1.0, 1.0, 1.0)
    for t in ("LOC", "ORG"):
        assert (s[f"f1:{t}"], s[f"precision:{t}"], s[f"recall:{t}"], s[f"support:{t}"]) == (0.0, 0.0, 0.0, 1.0)
    assert s["macro_f1"] == pytest.approx(1 / 3)
    assert s["macro_precision"] == pytest.approx(1 / 3)


def test_micro_differs_from_macro() -> None:
    gold = [["B-PER", "O", "B-PER", "O", "B-LOC"], ["B-ORG", "I-ORG"]]
    pred = [["B-PER", "O", "B-PER", "O", "O"], ["B-ORG", "I-ORG"]]
    # TP: PER 2, ORG 1; FN: LOC 1; no FP -> micro P 1, R 3/4; macro over PER, LOC, ORG
    s = _no_warnings(gold, pred)
    assert (s["precision"], s["recall"]) == (1.0, 0.75)
    assert s["f1"] == pytest.approx(6 / 7)
    assert s["macro_precision"] == pytest.approx(2 / 3)
    assert s["macro_recall"] == pytest.approx(2 / 3)
    assert s["macro_f1"] == pytest.approx(2 / 3)
    assert s["support:PER"] == 2.0 and s["support:LOC"] == 1.0 and s["support:ORG"] == 1.0
    assert s["precision:LOC"] == 0.0  # no LOC predicted: zero_division=0


def test_strict_i_without_b_is_no_entity() -> None:
    # lenient (conlleval) scoring would accept I-PER I-PER as the PER entity: F1 1.0
    s = _no_warnings([["B-PER", "I-PER", "O"]], [["I-PER", "I-PER", "O"]])
    assert (s["f1"], s["precision"], s["recall"]) == (0.0, 0.0, 0.0)
    assert s["support:PER"] == 1.0
    # an I- tag of another type ends the entity: B-PER I-LOC predicts PER over one token only
    s = _no_warnings([["B-PER", "I-PER"]], [["B-PER", "I-LOC"]])
    assert s["f1"] == 0.0 and "f1:LOC" not in s
    # an invalid gold I- span is not an entity either, so predicting it is a false positive
    s = _no_warnings([["O", "I-LOC"]], [["O", "B-LOC"]])
    assert (s["f1"], s["precision"], s["recall"], s["support:LOC"]) == (0.0, 0.0, 0.0, 0.0)


def test_perfect_and_key_set() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    s = _no_warnings(gold, gold)
    assert s == {
        "f1": 1.0, "precision": 1.0, "recall": 1.0,
        "macro_f1": 1.0, "macro_precision": 1.0, "macro_recall": 1.0,
        "f1:PER": 1.0, "precision:PER": 1.0, "recall:PER": 1.0, "support:PER": 1.0,
        "f1:LOC": 1.0, "precision:LOC": 1.0, "recall:LOC": 1.0, "support:LOC": 1.0,
    }  # fmt: skip
    assert all(type(v) is float for v in s.values())


@pytest.mark.parametrize(
    ("gold", "pred"),
    [([], []), ([["O", "O"]], [["O", "O"]]), ([["O"]], [["B-PER"]]), ([["B-ORG"]], [["O"]])],
)
def test_degenerate_inputs_give_zeros_without_warnings(gold, pred) -> None:
    s = _no_warnings(gold, pred)
    assert s["f1"] == s["precision"] == s["recall"] == s["macro_f1"] == s["macro_precision"] == 0.0


def test_tuples_accepted_and_shape_errors() -> None:
    assert ner_scores((("B-PER", "O"),), (("B-PER", "O"),))["f1"] == 1.0
    with pytest.raises(ValueError, match="sentence 0"):
        ner_scores([["O", "O"]], [["O"]])
    with pytest.raises(ValueError):
        ner_scores([["O"]], [])


def test_predictions_file_round_trip(tmp_path: Path) -> None:
    tokens = [["Ọláolúwa", "lọ", "sí", "Èkó"], ["አዲስ", "አበባ"], ["\u200b"]]
    gold = [["B-PER", "O", "O", "B-LOC"], ["B-LOC", "I-LOC"], ["O"]]
    pred = [["B-PER", "O", "O", "B-ORG"], ["B-LOC", "O"], ["O"]]
    path = tmp_path / "preds.txt"
    write_predictions(path, tokens, gold, pred)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("Ọláolúwa B-PER B-PER\nlọ O O\n")
    assert text.endswith("አበባ I-LOC O\n\n\u200b O O\n\n")
    assert read_predictions(path) == (tokens, gold, pred)
    assert ner_scores(*read_predictions(path)[1:]) == ner_scores(gold, pred)
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("bad_token", ["two words", "", "tab\there", "-DOCSTART-"])
def test_write_refuses_what_cannot_round_trip(tmp_path: Path, bad_token: str) -> None:
    with pytest.raises(ValueError):
        write_predictions(tmp_path / "p.txt", [[bad_token]], [["O"]], [["O"]])
    with pytest.raises(ValueError):
        write_predictions(tmp_path / "p.txt", [[]], [[]], [[]])
    with pytest.raises(ValueError):
        write_predictions(tmp_path / "p.txt", [["a", "b"]], [["O", "O"]], [["O"]])


@pytest.mark.parametrize("lang", ["xho", "yor"])
def test_real_data_rescoring(tmp_path: Path, lang: str) -> None:
    path = NER / lang / "test.txt"
    sents = read_conll(path)
    tokens = [list(s.tokens) for s in sents]
    gold = [list(s.tags) for s in sents]
    # gold against itself is perfect even where gold has stray I- tags (xho test has some)
    assert ner_scores(gold, gold)["f1"] == 1.0
    # a "model" that drops every LOC: PER and ORG perfect, LOC recall 0
    pred = [["O" if t.endswith("-LOC") else t for t in g] for g in gold]
    s = ner_scores(gold, pred)
    assert s["precision"] == 1.0 and s["recall:LOC"] == 0.0 and s["f1:PER"] == 1.0
    assert s["recall"] == pytest.approx(1 - s["support:LOC"] / sum(v for k, v in s.items() if k.startswith("support:")))
    out = tmp_path / "preds.txt"
    write_predictions(out, tokens, gold, pred)
    assert read_predictions(out) == (tokens, gold, pred)
    assert ner_scores(*read_predictions(out)[1:]) == s
