"""Label ids for token classification and word <-> subword label alignment.

The label set comes from the *source* language only: in zero-shot transfer the model
can only ever predict source labels, so target tags outside that set are mapped to
'O' (and counted, so a run can report how much target annotation it ignored).
Labels go on each word's first subword; other subwords and special tokens get -100
(ignored by the loss), and a word's prediction is read back from its first subword.
Pure Python on purpose: importable without torch or a tokenizer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["IGNORE_INDEX", "OUTSIDE", "LabelMap", "align_first_subword", "predictions_to_words", "relabel"]

IGNORE_INDEX = -100  # torch.nn.CrossEntropyLoss default ignore_index
OUTSIDE = "O"


@dataclass(frozen=True)
class LabelMap:
    """An ordered label set; 'O' is always present and always id 0."""

    labels: tuple[str, ...]
    _ids: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", tuple(self.labels))
        if not self.labels or self.labels[0] != OUTSIDE:
            raise ValueError(f"label set must start with '{OUTSIDE}', got {self.labels!r}")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"duplicate labels in {self.labels!r}")
        object.__setattr__(self, "_ids", {t: i for i, t in enumerate(self.labels)})

    @classmethod
    def from_tags(cls, tags: Iterable[str]) -> LabelMap:
        """Build from the tags seen in source data: 'O' first, then the rest sorted."""
        return cls(labels=(OUTSIDE, *sorted(set(tags) - {OUTSIDE})))

    def __len__(self) -> int:
        return len(self.labels)

    def __contains__(self, tag: object) -> bool:
        return tag in self._ids

    @property
    def outside_id(self) -> int:
        return 0

    def id_of(self, tag: str) -> int:
        try:
            return self._ids[tag]
        except KeyError:
            raise KeyError(f"tag {tag!r} is not in the label set {list(self.labels)}") from None

    def tag_of(self, label_id: int) -> str:
        if not 0 <= label_id < len(self.labels):
            raise KeyError(f"label id {label_id} out of range 0..{len(self.labels) - 1}")
        return self.labels[label_id]

    def ids_of(self, tags: Iterable[str]) -> list[int]:
        return [self.id_of(t) for t in tags]

    def tags_of(self, label_ids: Iterable[int]) -> list[str]:
        return [self.tag_of(i) for i in label_ids]

    def map_tags(self, tags: Iterable[str]) -> tuple[list[str], int]:
        """Replace tags unknown to this label set by 'O'; return them and how many were replaced."""
        out: list[str] = []
        n_mapped = 0
        for t in tags:
            if t in self._ids:
                out.append(t)
            else:
                out.append(OUTSIDE)
                n_mapped += 1
        return out, n_mapped

    def id2label(self) -> dict[int, str]:
        """For a transformers model config."""
        return dict(enumerate(self.labels))


def relabel(tags: Iterable[str], mapping: dict[str, str]) -> tuple[list[str], int]:
    """Apply a grid's explicit label map; returns the tags and how many changed.

    A key may be a whole tag (``B-DATE``, ``PROPN``) or an IOB2 entity type (``DATE``),
    which then covers ``B-DATE`` and ``I-DATE``; a type mapped to another type keeps the
    prefix (``{MISC: ORG}``: ``I-MISC`` -> ``I-ORG``), a type mapped to ``O`` drops it.
    """
    out: list[str] = []
    changed = 0
    for tag in tags:
        new = mapping.get(tag)
        if new is None and tag[:2] in ("B-", "I-") and tag[2:] in mapping:
            target = mapping[tag[2:]]
            new = OUTSIDE if target == OUTSIDE else (target if target[:2] in ("B-", "I-") else tag[:2] + target)
        new = tag if new is None else new
        changed += new != tag
        out.append(new)
    return out, changed


def align_first_subword(word_ids: Sequence[int | None], word_label_ids: Sequence[int]) -> list[int]:
    """Per-subword labels: the word's label on its first subword, -100 elsewhere.

    ``word_ids`` is what a fast tokenizer's ``BatchEncoding.word_ids()`` returns for
    words tokenized with ``is_split_into_words=True`` (None for special/pad tokens).
    """
    out: list[int] = []
    seen: set[int] = set()
    for wid in word_ids:
        if wid is None or wid in seen:
            out.append(IGNORE_INDEX)
            continue
        if not 0 <= wid < len(word_label_ids):
            raise IndexError(f"word id {wid} but only {len(word_label_ids)} word labels")
        seen.add(wid)
        out.append(word_label_ids[wid])
    return out


def predictions_to_words(
    word_ids: Sequence[int | None],
    predicted_ids: Sequence[int],
    n_words: int,
    *,
    outside_id: int = 0,
) -> tuple[list[int], int]:
    """Per-word predicted ids, read from each word's first subword.

    Words with no subword in ``word_ids`` get ``outside_id`` (the id of 'O', 0 in a
    LabelMap), i.e. are predicted as non-entities and still scored. That happens to
    words cut off by ``max_length`` truncation and, rarely, to words the tokenizer
    turns into nothing (e.g. a lone combining accent under an accent-stripping
    tokenizer). Returns ``(ids, n_missing)``: n_missing counts those words so the
    caller can report them. ``predicted_ids`` may be longer than ``word_ids``
    (batch padding); the extra positions are ignored.
    """
    if len(predicted_ids) < len(word_ids):
        raise ValueError(f"{len(predicted_ids)} predictions for {len(word_ids)} subword positions")
    out: list[int | None] = [None] * n_words
    for wid, pred in zip(word_ids, predicted_ids):
        if wid is None:
            continue
        if not 0 <= wid < n_words:
            raise IndexError(f"word id {wid} but the sentence has {n_words} words")
        if out[wid] is None:
            out[wid] = int(pred)
    n_missing = sum(1 for p in out if p is None)
    return [outside_id if p is None else p for p in out], n_missing
