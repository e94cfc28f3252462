"""Sentence-classification scores (AfriSenti sentiment) and stored per-text predictions.

Pure Python: scoring a run must not need scikit-learn, so the scores are computed here
from per-class counts, defined as scikit-learn's ``f1_score`` defines them (the tests
check them against it). AfriSenti's official score is the weighted F1: each class's F1
weighted by its gold support, so a class that is never gold weighs nothing. Predictions
are written to disk, one ``gold<TAB>pred`` line per text, so a run's scores can be
recomputed (and bootstrapped over texts) later.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from engine.data.pos_eval import confusion_matrix

__all__ = ["classification_scores", "label_confusion", "read_label_predictions", "write_label_predictions"]

_BAD_CHARS = " \t\r\n\f\v"  # a label with one of these could not be read back as one field


def _check_lengths(gold: Sequence[str], pred: Sequence[str]) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predicted labels")


def classification_scores(gold: Sequence[str], pred: Sequence[str]) -> dict[str, float]:
    """Weighted and macro F1, accuracy and per-class scores, all fractions in [0, 1].

    Keys: ``weighted_f1`` (per-class F1 weighted by gold support, scikit-learn's
    ``average="weighted"``), ``macro_f1`` (unweighted mean over every class found in gold
    or pred, scikit-learn's default labels), ``accuracy``, ``n_texts``, and for every
    class C in gold or pred: ``precision:C``, ``recall:C``, ``f1:C``, ``support:C`` (gold
    count). An undefined ratio is 0.0 (``zero_division=0``); no texts gives zeros.
    """
    _check_lengths(gold, pred)
    n = len(gold)
    out = {"weighted_f1": 0.0, "macro_f1": 0.0, "accuracy": 0.0, "n_texts": float(n)}
    if n == 0:
        return out
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for g, p in zip(gold, pred):
        if g == p:
            tp[g] += 1
        else:
            fp[p] += 1
            fn[g] += 1
    classes = sorted(set(gold) | set(pred))
    weighted = macro = 0.0
    for c in classes:
        support = tp[c] + fn[c]
        found = tp[c] + fp[c]
        f1_den = 2 * tp[c] + fp[c] + fn[c]  # never 0: c is in gold or pred
        f1 = 2 * tp[c] / f1_den
        out[f"precision:{c}"] = tp[c] / found if found else 0.0
        out[f"recall:{c}"] = tp[c] / support if support else 0.0
        out[f"f1:{c}"] = f1
        out[f"support:{c}"] = float(support)
        weighted += support * f1
        macro += f1
    out["weighted_f1"] = weighted / n  # the supports sum to n
    out["macro_f1"] = macro / len(classes)
    out["accuracy"] = sum(tp.values()) / n
    return out


def label_confusion(gold: Sequence[str], pred: Sequence[str]) -> dict[str, dict[str, int]]:
    """``{gold label: {predicted label: count}}`` (non-zero cells, keys sorted), JSON-ready.

    The texts are one "sentence" of pos_eval's confusion matrix, so both tasks store the same shape."""
    _check_lengths(gold, pred)
    return confusion_matrix([list(gold)], [list(pred)])


def _check_label(i: int, label: object) -> None:
    if not isinstance(label, str) or not label or any(c in label for c in _BAD_CHARS):
        raise ValueError(f"text {i}: cannot store label {label!r} in a tab-separated file")


def write_label_predictions(path: str | Path, gold: Sequence[str], pred: Sequence[str]) -> None:
    """Write one ``gold<TAB>pred`` line per text, in order (atomically: a reader never sees half a file).

    Refuses what could not be read back identically: labels that are empty or contain
    a space, tab or line break."""
    _check_lengths(gold, pred)
    lines: list[str] = []
    for i, (g, p) in enumerate(zip(gold, pred)):
        _check_label(i, g)
        _check_label(i, p)
        lines.append(f"{g}\t{p}\n")
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(lines)
    os.replace(tmp, path)


def read_label_predictions(path: str | Path) -> tuple[list[str], list[str]]:
    """Read a file from write_label_predictions back as ``(gold, pred)``.

    A line that write_label_predictions could not have written raises ValueError naming ``path:line``."""
    gold: list[str] = []
    pred: list[str] = []
    with open(path, encoding="utf-8", newline="\n") as f:
        for number, line in enumerate(f, start=1):
            fields = line.removesuffix("\n").split("\t")
            if len(fields) != 2 or any(not x or any(c in x for c in _BAD_CHARS) for x in fields):
                raise ValueError(f"{path}:{number}: expected 'gold<TAB>pred' (two non-empty labels), got {line!r}")
            gold.append(fields[0])
            pred.append(fields[1])
    return gold, pred
