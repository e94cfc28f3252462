"""A sentence-classification run's data: labelled texts read, tokenised (cached), one label per text.

The counterpart of engine.training.tagging_data for tasks whose head is ``sentence`` in the
task table (engine.tasks), e.g. tweet sentiment. A text is split on whitespace and tokenised
as words through the same on-disk cache as tagging data: for XLM-R's SentencePiece and BERT's
WordPiece the subwords are those of the raw text, and a repeated study tokenises once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.data.formats import read_task_file
from engine.data.sentiment import LabelledText
from engine.spec import RunSpec
from engine.tasks import TASKS
from engine.training.tagging_data import split_path
from engine.training.token_cache import cached_tokenize


@dataclass(frozen=True)
class ClassLabels:
    """A task's fixed, ordered label set (the head's output ids)."""

    labels: tuple[str, ...]
    _ids: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ids", {t: i for i, t in enumerate(self.labels)})

    def __len__(self) -> int:
        return len(self.labels)

    def __contains__(self, label: object) -> bool:
        return label in self._ids

    def id_of(self, label: str) -> int:
        return self._ids[label]

    def tags_of(self, ids: Sequence[int]) -> list[str]:
        return [self.labels[i] for i in ids]


@dataclass
class EncodedTexts:
    sentences: Sequence[LabelledText]  # named as tagging's Encoded is, so the trainers share their code
    features: list[dict[str, list[int] | int]]
    truncated: list[bool]  # the text had words beyond max_length


def task_labels(spec: RunSpec) -> ClassLabels:
    labels = TASKS[spec.task].labels
    assert labels is not None, f"task {spec.task} has no fixed label set"
    return ClassLabels(labels)


def read_texts(spec: RunSpec, lang: str, split: str, limit: int | None) -> tuple[list[LabelledText], int]:
    """One split's labelled texts (and 0: a fixed label set is never relabelled)."""
    return list(read_task_file(TASKS[spec.task], split_path(spec, lang, split), limit=limit)), 0


def words_of(texts: Sequence[LabelledText]) -> list[list[str]]:
    return [t.text.split() or [t.text] for t in texts]


def encode_texts(tokenizer, texts: Sequence[LabelledText], labels: ClassLabels,
                 max_length: int) -> tuple[EncodedTexts, int]:
    """Subword ids of each text (cached) and its label id; also 0 labels mapped (the set is fixed)."""
    words = words_of(texts)
    tokenised, _hit = cached_tokenize(tokenizer, words, max_length)
    features, truncated = [], []
    for text, n_words, (ids, wids) in zip(texts, (len(w) for w in words), tokenised):
        features.append(dict(input_ids=ids, attention_mask=[1] * len(ids), labels=labels.id_of(text.label)))
        last = max((w for w in wids if w is not None), default=-1)
        truncated.append(last < n_words - 1)
    return EncodedTexts(texts, features, truncated), 0
