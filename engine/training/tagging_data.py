"""A tagging run's data: split files read and relabelled, tokenised (cached), batched by length.

Split out of the training code so full fine-tuning, MAD-X and few-shot runs prepare
data the same way: the grid's explicit label map applied to every split, each
word's label on its first subword, tokenisation through the on-disk cache, and
training batches grouped by length and padded to their own longest sentence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch.utils.data import DataLoader
from transformers.trainer_pt_utils import LengthGroupedSampler

from engine.data.catalog import task_files
from engine.data.conll import Sentence
from engine.data.formats import read_task_file
from engine.data.labels import LabelMap, align_first_subword, relabel
from engine.data.refs import DataError
from engine.spec import RunSpec
from engine.tasks import TASKS
from engine.training.token_cache import cached_tokenize


@dataclass
class Encoded:
    sentences: Sequence[Sentence]
    features: list[dict[str, list[int]]]
    word_ids: list[list[int | None]]


def split_path(spec: RunSpec, lang: str, split: str) -> Path:
    files = task_files(spec.task, spec.data[lang], lang)
    path = files.get(split)
    if path is None:
        raise DataError(f"{spec.data[lang]}: language '{lang}' has no {split} split")
    return path


def relabel_sentences(sentences: Sequence[Sentence], mapping: dict[str, str]) -> tuple[list[Sentence], int]:
    """The grid's ``labels.map`` applied to every sentence; also how many tags it changed."""
    if not mapping:
        return list(sentences), 0
    out, changed = [], 0
    for s in sentences:
        tags, n = relabel(s.tags, mapping)
        changed += n
        out.append(Sentence(s.tokens, tuple(tags)) if n else s)
    return out, changed


def read_split(spec: RunSpec, lang: str, split: str, limit: int | None) -> tuple[list[Sentence], int]:
    """One split, relabelled by the grid's label map, and the number of tags relabelled."""
    return relabel_sentences(read_task_file(TASKS[spec.task], split_path(spec, lang, split), limit=limit),
                             spec.labels.map)


def unknown_tags(sentences: Sequence[Sentence], labels: LabelMap) -> Counter[str]:
    return Counter(t for s in sentences for t in s.tags if t not in labels)


def check_unknown(spec: RunSpec, lang: str, sentences: Sequence[Sentence], labels: LabelMap) -> None:
    """With ``labels.unknown: error``, stop before training when a target has tags the source lacks."""
    unknown = unknown_tags(sentences, labels)
    if spec.labels.unknown == "error" and unknown:
        shown = ", ".join(f"{t} ({n})" for t, n in unknown.most_common())
        raise DataError(f"{split_path(spec, lang, 'test')}: {lang} test: tags not in the source label set {list(labels.labels)}: {shown}; map them "
                        f"with the grid's labels.map (e.g. {{{unknown.most_common(1)[0][0]}: O}}) or set "
                        f"labels.unknown: O")


def encode(tokenizer, sentences: Sequence[Sentence], labels: LabelMap, max_length: int) -> tuple[Encoded, int]:
    """Tokenise words (cached) and put each word's label on its first subword; counts tags mapped to O."""
    tokenised, _hit = cached_tokenize(tokenizer, [s.tokens for s in sentences], max_length)
    features, word_ids, n_mapped = [], [], 0
    for sentence, (ids, wids) in zip(sentences, tokenised):
        tags, mapped = labels.map_tags(sentence.tags)
        n_mapped += mapped
        word_ids.append(wids)
        features.append(dict(input_ids=ids, attention_mask=[1] * len(ids),
                             labels=align_first_subword(wids, labels.ids_of(tags))))
    return Encoded(sentences, features, word_ids), n_mapped


def train_loader(features: list[dict[str, list[int]]], batch_size: int, collate: Callable, generator: torch.Generator,
                 group_by_length: bool) -> DataLoader:
    """Seeded training batches; grouped by length they pad to far fewer positions (see bench/padding.py)."""
    if not group_by_length:
        return DataLoader(features, batch_size=batch_size, shuffle=True, collate_fn=collate, generator=generator)
    sampler = LengthGroupedSampler(batch_size, lengths=[len(f["input_ids"]) for f in features], generator=generator)
    return DataLoader(features, batch_size=batch_size, sampler=sampler, collate_fn=collate)
