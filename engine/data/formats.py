"""The task table's names resolved to functions: a data format to its reader, a way of counting
to its scorer, a head kind to its predictions file.

engine.tasks names these as strings so that it imports nothing; this is where the strings
meet the code. A new task in a known format needs nothing here; a new format adds its reader.
Imports are made on use: a grid check of NER data never imports the sentiment reader.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.tasks import TaskDef


def reader(fmt: str) -> Callable[..., Sequence[Any]]:
    """The strict reader of one data format: ``reader(path, limit=None)`` -> sentences or labelled texts."""
    if fmt == "conll":
        from engine.data.conll import read_conll

        return read_conll
    if fmt == "conllu":
        from engine.data.conllu import read_conllu

        return read_conllu
    if fmt == "labelled-text":
        from engine.data.sentiment import read_labelled

        return read_labelled
    raise KeyError(f"no reader for data format '{fmt}'")


def spread(n: int, limit: int | None) -> list[int]:
    """``limit`` positions spread evenly over ``n`` (all of them when ``limit`` is None or not less)."""
    if limit is None or limit >= n:
        return list(range(n))
    return [i * n // limit for i in range(limit)]


def read_task_file(task: TaskDef, path: str | Path, limit: int | None = None) -> Sequence[Any]:
    """One split file of a task, read by its format's reader (a fixed label set is checked on reading).

    ``limit`` keeps the first N sentences of a tagging file, but N texts spread evenly over a
    sentence task's file: AfriSenti's files are sorted by label, so their first 300 tweets of
    Hausa test are all positive."""
    read = reader(task.data_format)
    if task.labels is None:
        return read(path, limit=limit)
    items = read(path, labels=task.labels)
    return [items[i] for i in spread(len(items), limit)] if task.head == "sentence" else items[:limit]


def scorer(task: TaskDef) -> Callable[[Sequence[Any], Sequence[Any]], dict[str, float]]:
    """The scores of one split from gold and predicted labels (tag lists per sentence, or one label per text)."""
    if task.counts == "entities":
        from engine.data.ner_eval import ner_scores

        return ner_scores
    if task.counts == "tokens":
        from engine.data.pos_eval import pos_scores

        return pos_scores
    if task.counts == "classes":
        from engine.data.sentiment_eval import classification_scores

        return classification_scores
    raise KeyError(f"no scorer for counts '{task.counts}'")


def read_predictions(task: TaskDef, path: str | Path) -> tuple[list[Any], list[Any], list[Any]]:
    """A stored predictions file as ``(units, gold, pred)``: a unit is a sentence's tokens (tagging) or
    the text's position (sentence classification, whose file holds ``gold<TAB>pred`` lines)."""
    if task.head == "token":
        from engine.data.ner_eval import read_predictions as read_tagged

        return read_tagged(path)
    from engine.data.sentiment_eval import read_label_predictions

    gold, pred = read_label_predictions(path)
    return list(range(len(gold))), gold, pred
