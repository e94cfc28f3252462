"""Tokenised-data cache and length-grouped batching, on real MasakhaNER English with the
real MiniLM tokenizer."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer, DataCollatorForTokenClassification

from engine.data.conll import read_conll
from engine.data.labels import LabelMap
from engine.training.modelzoo import minilm_dir
from engine.training.tagging_data import encode, train_loader
from engine.training.token_cache import cached_tokenize, tokenize_words, tokenizer_fingerprint
from tests.support.env import DATA


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(str(minilm_dir()))


@pytest.fixture(scope="module")
def sentences():
    return read_conll(DATA / "ner/en/train.txt", limit=300)


def test_the_cache_returns_what_the_tokenizer_gives_and_hits_the_second_time(tokenizer, sentences, tmp_path):
    words = [s.tokens for s in sentences]
    first, hit1 = cached_tokenize(tokenizer, words, 64, root=tmp_path)
    second, hit2 = cached_tokenize(tokenizer, words, 64, root=tmp_path)
    assert (hit1, hit2) == (False, True)
    assert first == second == tokenize_words(tokenizer, words, 64)
    assert any(None in wids for _, wids in second)  # special tokens keep their None word id
    assert len(list((tmp_path / "tokens").iterdir())) == 1


def test_the_key_covers_max_length_words_and_tokenizer(tokenizer, sentences, tmp_path):
    words = [s.tokens for s in sentences]
    cached_tokenize(tokenizer, words, 64, root=tmp_path)
    assert cached_tokenize(tokenizer, words, 32, root=tmp_path)[1] is False
    assert cached_tokenize(tokenizer, words[:-1], 64, root=tmp_path)[1] is False
    lowercase_off = AutoTokenizer.from_pretrained(str(minilm_dir()), do_lower_case=False)
    assert tokenizer_fingerprint(lowercase_off) != tokenizer_fingerprint(tokenizer)
    assert cached_tokenize(lowercase_off, words, 64, root=tmp_path)[1] is False
    assert len(list((tmp_path / "tokens").iterdir())) == 4


def test_a_damaged_entry_is_recomputed(tokenizer, sentences, tmp_path):
    words = [s.tokens for s in sentences[:20]]
    cached_tokenize(tokenizer, words, 64, root=tmp_path)
    (entry,) = (tmp_path / "tokens").iterdir()
    entry.write_bytes(b"not a numpy archive")
    again, hit = cached_tokenize(tokenizer, words, 64, root=tmp_path)
    assert hit is False and again == tokenize_words(tokenizer, words, 64)


def padded_positions(loader) -> tuple[int, int]:
    """(positions fed to the model, real tokens among them) over one epoch."""
    total = real = 0
    for batch in loader:
        total += batch["input_ids"].numel()
        real += int(batch["attention_mask"].sum())
    return total, real


def test_length_grouped_batches_cover_every_sentence_once_and_pad_less(tokenizer, sentences):
    labels = LabelMap.from_tags(t for s in sentences for t in s.tags)
    features = encode(tokenizer, sentences, labels, 128)[0].features
    collate = DataCollatorForTokenClassification(tokenizer)

    def loader(grouped: bool, seed: int = 1):
        return train_loader(features, 16, collate, torch.Generator().manual_seed(seed), grouped)

    seen = sorted(tuple(ids[m.bool()].tolist()) for b in loader(True) for ids, m in
                  zip(b["input_ids"], b["attention_mask"]))
    assert seen == sorted(tuple(f["input_ids"]) for f in features)
    grouped, shuffled = padded_positions(loader(True)), padded_positions(loader(False))
    assert grouped[1] == shuffled[1]  # the same real tokens ...
    assert grouped[0] < 0.8 * shuffled[0]  # ... in far fewer padded positions
    first = [b["input_ids"].tolist() for b in loader(True, seed=3)]
    assert first == [b["input_ids"].tolist() for b in loader(True, seed=3)]  # seeded
    assert first != [b["input_ids"].tolist() for b in loader(True, seed=4)]
