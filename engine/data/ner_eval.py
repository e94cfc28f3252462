"""Entity-level NER scores (seqeval, strict IOB2) and stored per-token predictions.

Strict IOB2 is the MasakhaNER convention: an entity must start with B- and every
token must match, so an I- tag with no B- before it is no entity, and a boundary
error counts once as a false positive and once as a false negative. Predictions are
written to disk so a run's scores can be recomputed (and audited) later.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from seqeval.metrics import classification_report
from seqeval.scheme import IOB2, Entities

from engine.data.conll import DOCSTART, read_blocks

__all__ = ["check_shapes", "ner_scores", "read_predictions", "write_predictions"]

_AVERAGES = ("micro avg", "macro avg", "weighted avg")


def _as_lists(seqs: Sequence[Sequence[str]]) -> list[list[str]]:
    return [list(s) for s in seqs]  # seqeval insists on list-of-lists exactly


def check_shapes(name: str, gold: Sequence[Sequence[str]], other: Sequence[Sequence[object]]) -> None:
    if len(gold) != len(other):
        raise ValueError(f"{len(gold)} gold sentences but {len(other)} {name} sentences")
    for i, (g, o) in enumerate(zip(gold, other)):
        if len(g) != len(o):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(o)} {name} items")


def ner_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, float]:
    """Micro P/R/F1 plus per-type and macro scores, all fractions in [0, 1].

    Keys: ``f1``, ``precision``, ``recall`` (micro), ``macro_f1``, ``macro_precision``,
    ``macro_recall``, and ``f1:T``, ``precision:T``, ``recall:T``, ``support:T`` for
    every entity type T found (strictly) in gold or pred. With no entities at all
    every score is 0.0 (no warnings).
    """
    check_shapes("predicted", gold, pred)
    g, p = _as_lists(gold), _as_lists(pred)
    types = sorted(Entities(g, IOB2).unique_tags | Entities(p, IOB2).unique_tags) if g else []
    out = {k: 0.0 for k in ("f1", "precision", "recall", "macro_f1", "macro_precision", "macro_recall")}
    if not types:
        return out  # seqeval would emit RuntimeWarnings (mean of empty) and NaN macro scores
    report = classification_report(g, p, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    micro, macro = report["micro avg"], report["macro avg"]
    out.update(
        f1=float(micro["f1-score"]),
        precision=float(micro["precision"]),
        recall=float(micro["recall"]),
        macro_f1=float(macro["f1-score"]),
        macro_precision=float(macro["precision"]),
        macro_recall=float(macro["recall"]),
    )
    for t in types:
        row = report[t]
        out[f"f1:{t}"] = float(row["f1-score"])
        out[f"precision:{t}"] = float(row["precision"])
        out[f"recall:{t}"] = float(row["recall"])
        out[f"support:{t}"] = float(row["support"])
    return out


def write_predictions(
    path: str | Path,
    sentences_tokens: Sequence[Sequence[str]],
    gold: Sequence[Sequence[str]],
    pred: Sequence[Sequence[str]],
) -> None:
    """Write ``token gold pred`` lines, a blank line after each sentence (atomically).

    Refuses what could not be read back identically: empty sentences, a -DOCSTART-
    token, and tokens or tags that are empty or contain a space, tab or line break.
    """
    check_shapes("token", gold, sentences_tokens)
    check_shapes("predicted", gold, pred)
    path = Path(path)
    lines: list[str] = []
    for i, (toks, gs, ps) in enumerate(zip(sentences_tokens, gold, pred)):
        if not toks:
            raise ValueError(f"sentence {i} is empty")
        for tok, g, p in zip(toks, gs, ps):
            for item in (tok, g, p):
                if not item or any(c in item for c in " \t\r\n\f\v"):
                    raise ValueError(f"sentence {i}: cannot store {item!r} in a space-separated file")
            if tok == DOCSTART:
                raise ValueError(f"sentence {i}: token {DOCSTART} would be skipped on reading")
            lines.append(f"{tok} {g} {p}\n")
        lines.append("\n")
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(lines)
    os.replace(tmp, path)


def read_predictions(path: str | Path) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    """Read a file from write_predictions back as ``(tokens, gold, pred)``."""
    blocks = read_blocks(path, 3)
    tokens = [[f[0] for f in b] for b in blocks]
    gold = [[f[1] for f in b] for b in blocks]
    pred = [[f[2] for f in b] for b in blocks]
    return tokens, gold, pred
