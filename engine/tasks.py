"""The tasks xltui runs, as one table: each entry says everything a stage needs to know of it.

Stages branch on an entry's fields (its head kind, data format, counts), never on a task's
name, so a new task is one entry here and, where its files are in a new format, a reader
(engine.data.formats). The fields are names, not functions, so this module imports nothing
and every stage (the TUI's first screen included) can read the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

HeadKind = Literal["token", "sentence"]


@dataclass(frozen=True)
class TaskDef:
    """One task: its data, its head, what it is scored on and how its predictions are kept."""

    name: str  # as grids write it
    title: str  # as tables name it ("NER F1 (%)")
    head: HeadKind  # token tagging (a label per word) or sentence classification (one per text)
    data_format: str  # engine.data.formats' reader: "conll", "conllu", "labelled-text"
    catalog: str  # the data a grid gets when it names none for the task
    main_metric: str  # what tables report, early stopping selects on and the bootstrap tests
    metrics: tuple[str, ...]  # the overall scores every run stores, main first
    labels: tuple[str, ...] | None = None  # a fixed label set (else the source's training labels)
    confusion: bool = False  # a confusion matrix is stored beside the predictions
    unit: str = "sentence"  # one line (sentence-level tasks) or block (tagging) of a predictions file
    counts: str = "tokens"  # how one unit reduces to summable counts for the bootstrap (engine.analysis)
    metric_note: str = ""  # how the main metric is computed, for table captions
    per_label: str = "f1"  # the score stored per label as "<per_label>:<label>" (f1:PER, accuracy:NOUN)
    label_noun: str = "label"  # what one label is called in tables ("entity type", "tag", "class")

    @property
    def fixed_labels(self) -> bool:
        return self.labels is not None


NER = TaskDef("ner", "NER", "token", "conll", "masakhaner", "f1", ("f1", "precision", "recall", "macro_f1"),
              unit="sentence", counts="entities", metric_note="corpus-level strict-IOB2 F1 (seqeval's counts)",
              per_label="f1", label_noun="entity type")
POS = TaskDef("pos", "POS", "token", "conllu", "ud", "accuracy", ("accuracy",), confusion=True,
              unit="sentence", counts="tokens", metric_note="token accuracy", per_label="accuracy", label_noun="tag")
SENTIMENT = TaskDef("sentiment", "sentiment", "sentence", "labelled-text", "afrisenti", "weighted_f1",
                    ("weighted_f1", "macro_f1", "accuracy"), labels=("negative", "neutral", "positive"),
                    confusion=True, unit="tweet", counts="classes",
                    metric_note="weighted F1 over the classes (AfriSenti's official score)", per_label="f1",
                    label_noun="class")

TASKS: dict[str, TaskDef] = {t.name: t for t in (NER, POS, SENTIMENT)}
TASK_NAMES: tuple[str, ...] = tuple(TASKS)
MAIN_METRIC: dict[str, str] = {t.name: t.main_metric for t in TASKS.values()}


def task_of(name: str) -> TaskDef:
    """The entry of a task name; KeyError names the known tasks."""
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task '{name}' (known: {', '.join(TASKS)})") from None
