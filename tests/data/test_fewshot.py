"""Seeded K-shot sampling and carving few-shot training data out of a test file."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from engine.data.conll import read_conll
from engine.data.conllu import read_conllu
from engine.data.fewshot import pool_split, sample_k, sample_per_class, sentence_ids
from engine.data.refs import DataError, SplitFiles
from engine.data.sentiment import read_labelled
from tests.support.env import DATA

ITEMS = [f"s{i}" for i in range(50)]


def test_seeded_and_reproducible() -> None:
    a = sample_k(ITEMS, 10, seed=1)
    random.seed(12345)  # the global random state must not matter...
    random.random()
    assert sample_k(ITEMS, 10, seed=1) == a
    state = random.getstate()
    sample_k(ITEMS, 10, seed=1)
    assert random.getstate() == state  # ...nor be touched


def test_different_seeds_differ() -> None:
    samples = {tuple(sample_k(ITEMS, 10, seed=s)[0]) for s in range(10)}
    assert len(samples) == 10


@pytest.mark.parametrize("k", [0, 1, 10, 49])
def test_disjoint_and_covering(k: int) -> None:
    chosen, rest = sample_k(ITEMS, k, seed=3)
    assert len(chosen) == k and len(rest) == len(ITEMS) - k
    assert not set(chosen) & set(rest)
    assert sorted(chosen + rest) == list(range(len(ITEMS)))
    assert chosen == sorted(chosen) and rest == sorted(rest)


def test_nested_across_k() -> None:
    small, _ = sample_k(ITEMS, 5, seed=7)
    big, _ = sample_k(ITEMS, 20, seed=7)
    assert set(small) <= set(big)


def test_ids_make_the_sample_independent_of_order() -> None:
    chosen, _ = sample_k(ITEMS, 10, seed=4, ids=ITEMS)
    shuffled = ITEMS[::-1]
    chosen2, _ = sample_k(shuffled, 10, seed=4, ids=shuffled)
    assert {ITEMS[i] for i in chosen} == {shuffled[i] for i in chosen2}


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"k=50 .* out of 50"):
        sample_k(ITEMS, 50, seed=0)
    with pytest.raises(ValueError, match=r"k=60 .* out of 50"):
        sample_k(ITEMS, 60, seed=0)
    with pytest.raises(ValueError, match="non-negative"):
        sample_k(ITEMS, -1, seed=0)
    with pytest.raises(ValueError, match="50 sentences but 49 ids"):
        sample_k(ITEMS, 5, seed=0, ids=ITEMS[:-1])
    with pytest.raises(ValueError, match="duplicate id 's0'"):
        sample_k(ITEMS, 5, seed=0, ids=["s0"] + ITEMS[:-1])


def _fewshot_spec(task: str, target: str, k: int, seed: int):
    from engine.spec import RunSpec, TrainParams

    data = "ud" if task == "pos" else "masakhaner"
    return RunSpec(task=task, model_name="tiny", model="tiny", method="full", source=("en",), targets=(target,),
                   setting="few-shot", k=k, seed=seed, data={"en": data, target: data}, train=TrainParams(),
                   init_from="0" * 16)


def test_carve_real_yoruba() -> None:
    from engine.training.fewshot import fewshot_split

    path = DATA / "pos" / "yo_ytb" / "yo_ytb-ud-test.conllu"
    assert path.is_file(), f"{path} is missing (the data directory comes from XLTUI_DATA)"
    sents = read_conllu(path)
    train, evals, record = fewshot_split(_fewshot_spec("pos", "yor", 20, 1), "yor")
    train_ids, eval_ids = record["train_ids"], record["eval_ids"]
    assert record["train_split"] == "test" and all(i.startswith("test:") for i in train_ids + eval_ids)
    assert len(train) == len(train_ids) == 20
    assert len(train) + len(evals) == len(sents) == 317
    assert sum(map(len, train)) + sum(map(len, evals)) == 8_243
    assert not set(train_ids) & set(eval_ids)
    assert set(train_ids) | set(eval_ids) == {f"test:{s.sent_id}" for s in sents}
    assert [f"test:{s.sent_id}" for s in train] == train_ids and [f"test:{s.sent_id}" for s in evals] == eval_ids
    # file order kept on both sides, and reproducible
    pos = {f"test:{s.sent_id}": i for i, s in enumerate(sents)}
    assert [pos[i] for i in eval_ids] == sorted(pos[i] for i in eval_ids)
    assert fewshot_split(_fewshot_spec("pos", "yor", 20, 1), "yor")[2] == record
    assert fewshot_split(_fewshot_spec("pos", "yor", 20, 2), "yor")[2]["train_ids"] != train_ids
    # same sentences whatever order the file was read in
    chosen, _ = sample_k(sents[::-1], 20, seed=1, ids=[f"test:{i}" for i in sentence_ids(sents[::-1])])
    assert {f"test:{sents[::-1][i].sent_id}" for i in chosen} == set(train_ids)


def test_carve_real_amharic_pos_and_ner_without_ids() -> None:
    from engine.training.fewshot import fewshot_split

    train, evals, record = fewshot_split(_fewshot_spec("pos", "amh", 100, 0), "amh")
    assert len(train) == 100 and len(evals) == 974 and not set(record["train_ids"]) & set(record["eval_ids"])

    ner = read_conll(DATA / "ner" / "yor" / "train.txt")
    train, evals, record = fewshot_split(_fewshot_spec("ner", "yor", 10, 0), "yor")
    train_ids = record["train_ids"]
    assert record["train_split"] == "train" and all(i.startswith("train:idx:") for i in train_ids)
    assert [ner[int(i[len("train:idx:"):])] for i in train_ids] == train
    assert all(i.startswith("test:idx:") for i in record["eval_ids"]) and len(evals) == len(record["eval_ids"])
    assert not set(train_ids) & set(record["eval_ids"])


# ----------------------------------------------------------------------------- K texts of every class

LABELS = ["negative"] * 20 + ["neutral"] * 12 + ["positive"] * 30
TEXT_IDS = [f"t{i:02d}" for i in range(len(LABELS))]


@pytest.mark.parametrize("k", [0, 1, 5, 12])
def test_per_class_k_of_every_class_disjoint_and_covering(k: int) -> None:
    chosen, rest = sample_per_class(LABELS, k, seed=3)
    assert Counter(LABELS[i] for i in chosen) == ({c: k for c in ("negative", "neutral", "positive")} if k else {})
    assert not set(chosen) & set(rest) and sorted(chosen + rest) == list(range(len(LABELS)))
    assert chosen == sorted(chosen) and rest == sorted(rest)


def test_per_class_seeded_nested_and_private() -> None:
    first = sample_per_class(LABELS, 5, seed=1)
    random.seed(999)
    state = random.getstate()
    assert sample_per_class(LABELS, 5, seed=1) == first and random.getstate() == state
    assert len({tuple(sample_per_class(LABELS, 5, seed=s)[0]) for s in range(8)}) == 8
    for seed in range(5):
        small, big = sample_per_class(LABELS, 5, seed)[0], sample_per_class(LABELS, 10, seed)[0]
        assert set(small) < set(big)


def test_per_class_ids_make_the_sample_independent_of_order() -> None:
    chosen, _ = sample_per_class(LABELS, 4, seed=2, ids=TEXT_IDS)
    order = list(range(len(LABELS)))
    random.Random(0).shuffle(order)
    shuffled_labels, shuffled_ids = [LABELS[i] for i in order], [TEXT_IDS[i] for i in order]
    again, _ = sample_per_class(shuffled_labels, 4, seed=2, ids=shuffled_ids)
    assert {TEXT_IDS[i] for i in chosen} == {shuffled_ids[i] for i in again}
    unordered, _ = sample_per_class(shuffled_labels, 4, seed=2)  # without ids the file order counts
    assert {TEXT_IDS[i] for i in chosen} != {shuffled_ids[i] for i in unordered}


def test_per_class_classes_and_errors() -> None:
    chosen, rest = sample_per_class(LABELS, 3, seed=0, classes=["neutral"])
    assert [LABELS[i] for i in chosen] == ["neutral"] * 3 and len(rest) == len(LABELS) - 3
    with pytest.raises(ValueError, match="^only 0 'mixed' texts, K=1 per class needs 1$"):
        sample_per_class(LABELS, 1, seed=0, classes=["neutral", "mixed"])
    with pytest.raises(ValueError, match="^only 12 'neutral' texts, K=13 per class needs 13$"):
        sample_per_class(LABELS, 13, seed=0)
    with pytest.raises(ValueError, match="non-negative"):
        sample_per_class(LABELS, -1, seed=0)
    with pytest.raises(ValueError, match="62 labels but 61 ids"):
        sample_per_class(LABELS, 1, seed=0, ids=TEXT_IDS[:-1])
    with pytest.raises(ValueError, match="duplicate id 't00'"):
        sample_per_class(LABELS, 1, seed=0, ids=["t00", *TEXT_IDS[:-1]])


def test_per_class_on_real_pidgin_training_tweets() -> None:
    texts = read_labelled(DATA / "sentiment" / "afrisenti" / "pcm" / "train.tsv")
    labels, ids = [t.label for t in texts], [t.id for t in texts]
    with pytest.raises(ValueError, match="^only 72 'neutral' texts, K=100 per class needs 100$"):
        sample_per_class(labels, 100, seed=1, ids=ids, classes=("negative", "neutral", "positive"))
    chosen, rest = sample_per_class(labels, 72, seed=1, ids=ids)
    assert len(chosen) == 216 and len(rest) == 5121 - 216
    assert not any(labels[i] == "neutral" for i in rest)


# ----------------------------------------------------------------------------- the pool split


def test_pool_split(tmp_path: Path) -> None:
    def files(*present: str) -> SplitFiles:
        return SplitFiles(**{s: (tmp_path / "orm" / f"{s}.tsv" if s in present else None)
                             for s in ("train", "dev", "test")})

    assert pool_split(files("train", "dev", "test")) == "train"
    assert pool_split(files("test")) == "test"  # UD Yoruba: carved out of test, as before
    assert pool_split(files("train", "dev", "test"), "dev") == "dev"
    assert pool_split(files("dev", "test"), "dev", carve_test=False) == "dev"
    assert pool_split(files("dev", "test"), "test", carve_test=False) == "test"  # asked for: allowed
    with pytest.raises(DataError, match=rf"{tmp_path / 'orm'} has no training split to sample few-shot examples "
                                        r"from \(it has dev, test\); name a pool in the grid, e.g. settings: "
                                        r"\[\{few-shot: \[K\], pool: \{LANG: dev\}\}\]"):
        pool_split(files("dev", "test"), carve_test=False)
    with pytest.raises(DataError, match=r"few-shot pool 'train': .*orm has no train split \(it has dev, test\)"):
        pool_split(files("dev", "test"), "train")
    with pytest.raises(DataError, match="few-shot pool 'validation': .* has no validation split"):
        pool_split(files("train", "dev"), "validation")
