"""What differs between a run whose head labels every word and one whose head labels a whole text.

The trainers (engine.training.zeroshot, engine.training.fewshot) are written once against
this interface and pick the implementation from the task table's ``head`` (engine.tasks):
``token`` for NER and POS, ``sentence`` for sentiment, and for any task added with either head.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import DataCollatorForTokenClassification, DataCollatorWithPadding

from engine.data.fewshot import sample_k, sample_per_class, sentence_ids
from engine.data.formats import scorer
from engine.data.labels import LabelMap, predictions_to_words
from engine.data.ner_eval import write_predictions
from engine.data.pos_eval import confusion_matrix
from engine.data.sentiment_eval import write_label_predictions
from engine.runfiles import RunFiles
from engine.spec import RunSpec
from engine.tasks import TASKS
from engine.training import cpu_threads, interrupt
from engine.training.modelzoo import load_classifier
from engine.training.sentence_data import ClassLabels, encode_texts, read_texts, task_labels, words_of
from engine.training.tagging_data import check_unknown, encode, read_split

EVAL_BATCH = 64


def _logits(model, collator, chunk: list[dict], device: str) -> tuple[torch.Tensor, dict]:
    batch = collator([{k: v for k, v in f.items() if k != "labels"} for f in chunk])
    return model(**{k: v.to(device) for k, v in batch.items()}).logits, batch


def _chunks(features: list) -> Any:
    for start in range(0, len(features), EVAL_BATCH):
        cpu_threads.follow()  # a long test set: a CPU run's share may change meanwhile
        interrupt.check()  # a stop asked during a dev evaluation: the loop saves its state at its last step
        yield start, features[start:start + EVAL_BATCH]


class _Head:
    """What both heads do alike: load a model reference with a fresh head of their kind."""

    kind: str
    truncated_key: str  # the score counting inputs cut by max_length

    def load(self, ref: str, labels, max_length: int, tokenizer_text=()):
        return load_classifier(self.kind, ref, list(labels.labels), max_length=max_length, tokenizer_text=tokenizer_text)


class TokenHead(_Head):
    """A label per word, on the word's first subword; scored per word or entity (NER, POS)."""

    kind = "token"
    truncated_key = "n_words_truncated"

    def read(self, spec: RunSpec, lang: str, split: str, limit: int | None) -> tuple[list, int]:
        return read_split(spec, lang, split, limit)

    def labels(self, spec: RunSpec, train: Sequence) -> LabelMap:
        return LabelMap.from_tags(t for s in train for t in s.tags)

    def check(self, spec: RunSpec, lang: str, items: Sequence, labels: LabelMap) -> None:
        check_unknown(spec, lang, items, labels)

    def words(self, items: Sequence) -> list[list[str]]:
        return [list(s.tokens) for s in items]

    def encode(self, tokenizer, items: Sequence, labels: LabelMap, max_length: int):
        return encode(tokenizer, items, labels, max_length)

    def collator(self, tokenizer):
        return DataCollatorForTokenClassification(tokenizer)

    @torch.no_grad()
    def predict(self, model, collator, data, labels: LabelMap, device: str) -> tuple[list[list[str]], int]:
        """Predicted tags per word; also how many words were cut off by max_length (predicted O)."""
        model.eval()
        out: list[list[str]] = []
        truncated = 0
        for start, chunk in _chunks(data.features):
            logits, batch = _logits(model, collator, chunk, device)
            logits = logits[:, logits.shape[1] - batch["input_ids"].shape[1]:]  # prompt tuning prepends positions
            for j, ids in enumerate(logits.argmax(-1).cpu().tolist()):
                sentence = data.sentences[start + j]
                word_pred, missing = predictions_to_words(data.word_ids[start + j], ids, len(sentence))
                truncated += missing
                out.append(labels.tags_of(word_pred))
        return out, truncated

    def gold(self, data, labels: LabelMap) -> list[list[str]]:
        return [labels.map_tags(s.tags)[0] for s in data.sentences]

    def write(self, path: Path, data, gold: list, pred: list) -> None:
        write_predictions(path, [list(s.tokens) for s in data.sentences], gold, pred)

    def ids(self, items: Sequence) -> list[str]:
        """Each sentence's ``sent_id`` (UD), else its position."""
        return sentence_ids(items)

    def sample(self, pool: Sequence, k: int, seed: int, ids: list[str],
               classes: Sequence[str] | None = None) -> tuple[list[int], list[int]]:
        """K sentences of the pool."""
        return sample_k(pool, k, seed, ids=ids)


class SentenceHead(_Head):
    """One label per text from the pooled first position; K few-shot examples per class."""

    kind = "sentence"
    truncated_key = "n_texts_truncated"

    def read(self, spec: RunSpec, lang: str, split: str, limit: int | None) -> tuple[list, int]:
        return read_texts(spec, lang, split, limit)

    def labels(self, spec: RunSpec, train: Sequence) -> ClassLabels:
        return task_labels(spec)

    def check(self, spec: RunSpec, lang: str, items: Sequence, labels: ClassLabels) -> None:
        """Nothing: the reader refused any label outside the task's fixed set."""

    def words(self, items: Sequence) -> list[list[str]]:
        return words_of(items)

    def encode(self, tokenizer, items: Sequence, labels: ClassLabels, max_length: int):
        return encode_texts(tokenizer, items, labels, max_length)

    def collator(self, tokenizer):
        return DataCollatorWithPadding(tokenizer)

    @torch.no_grad()
    def predict(self, model, collator, data, labels: ClassLabels, device: str) -> tuple[list[str], int]:
        """A label per text; also how many texts were cut by max_length (classified from what is left)."""
        model.eval()
        out: list[str] = []
        for _start, chunk in _chunks(data.features):
            logits, _batch = _logits(model, collator, chunk, device)
            out += labels.tags_of(logits.argmax(-1).cpu().tolist())
        return out, sum(data.truncated)

    def gold(self, data, labels: ClassLabels) -> list[str]:
        return [t.label for t in data.sentences]

    def write(self, path: Path, data, gold: list, pred: list) -> None:
        write_label_predictions(path, gold, pred)

    def ids(self, items: Sequence) -> list[str]:
        """Each text's id: its file's ID column, else its line."""
        return [t.id for t in items]

    def sample(self, pool: Sequence, k: int, seed: int, ids: list[str],
               classes: Sequence[str] | None = None) -> tuple[list[int], list[int]]:
        """K texts of every class of the task (a class the pool lacks is an error, not skipped)."""
        return sample_per_class([t.label for t in pool], k, seed, ids=ids, classes=classes)


HEADS = {"token": TokenHead(), "sentence": SentenceHead()}


def head_of(spec: RunSpec) -> TokenHead | SentenceHead:
    return HEADS[TASKS[spec.task].head]


def evaluate_split(task: str, model, collator, data, labels, device: str,
                   predictions_path: Path | None = None) -> dict[str, float]:
    """Scores of one split; with ``predictions_path`` the predictions (and confusion matrix) are written too."""
    entry, head = TASKS[task], HEADS[TASKS[task].head]
    pred, truncated = head.predict(model, collator, data, labels, device)
    gold = head.gold(data, labels)
    scores = scorer(entry)(gold, pred)
    scores.update({"n_sentences": len(data.sentences),
                   head.truncated_key: truncated})
    if predictions_path is not None:
        head.write(predictions_path, data, gold, pred)
        if entry.confusion:
            as_seqs = (gold, pred) if head.kind == "token" else ([[g] for g in gold], [[p] for p in pred])
            RunFiles.confusion_of(predictions_path).write_text(json.dumps(confusion_matrix(*as_seqs), indent=1,
                                                                          sort_keys=True))
    return scores
