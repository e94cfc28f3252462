"""Hugging Face sentiment data (``hf:`` references): local copies in the AfriSenti hub schema, built
from the real TSVs, must read back as exactly the original tweets whatever the label encoding, be
converted once, resolve language aliases to configs, and fail with one clear line on a bad column or
label. Offline throughout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.data.catalog import task_files
from engine.data.refs import DataError
from engine.data.sentiment import read_labelled
from tests.support.env import DATA
from tests.support.hf_copy import afrisenti_copy, sentiment_dataset, tsv_rows, write_copy

AFRISENTI = DATA / "sentiment" / "afrisenti"
SPLITS = ("train", "dev", "test")


@pytest.fixture(autouse=True)
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XLTUI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<lang>/{train,validation,test}/0000.parquet`` for hau (ClassLabel) and orm (no train, an ID column)."""
    return afrisenti_copy(tmp_path_factory.mktemp("afrisenti"), DATA, ("hau", "orm"))


@pytest.mark.parametrize("lang", ["hau", "ha", "orm"])
def test_copy_reads_back_as_the_original_tweets(copy: Path, lang: str) -> None:
    files = task_files("sentiment", f"hf:{copy}", lang)
    code = "orm" if lang == "orm" else "hau"
    for split in SPLITS:
        original = AFRISENTI / code / f"{split}.tsv"
        if not tsv_rows(original)["tweet"]:
            assert files.get(split) is None  # orm has no training tweets, on the hub as here
            continue
        got = read_labelled(files.get(split))
        assert len(got) == len(tsv_rows(original)["tweet"]) > 0
        assert got == read_labelled(original), split  # texts, labels and ids (orm's ID column, else line:N)
    assert files.note is not None and f"config {code}" in files.note
    if code == "hau":
        assert "14172 train, 2677 dev, 5303 test texts" in files.note


@pytest.mark.parametrize(("labels", "text_column"), [("string", "tweet"), ("int", "text")])
def test_label_strings_and_integers_and_a_text_column(tmp_path: Path, labels: str, text_column: str) -> None:
    afrisenti_copy(tmp_path / "copy", DATA, ("swa",), labels=labels, text_column=text_column, layout="flat")
    files = task_files("sentiment", f"hf:{tmp_path / 'copy' / 'swa'}", "swa")
    for split in SPLITS:
        assert read_labelled(files.get(split)) == read_labelled(AFRISENTI / "swa" / f"{split}.tsv")


def test_converted_once_and_keyed_by_content(copy: Path, offline_cache: Path, tmp_path: Path) -> None:
    first = task_files("sentiment", f"hf:{copy}", "hau")
    stamp = {p: p.stat().st_mtime_ns for p in offline_cache.rglob("*")}
    again = task_files("sentiment", f"hf:{copy}:hau", "hau")
    assert (again.train, again.dev, again.test) == (first.train, first.dev, first.test)
    assert {p: p.stat().st_mtime_ns for p in offline_cache.rglob("*")} == stamp
    changed = afrisenti_copy(tmp_path / "changed", DATA, ("swa",))
    rows = tsv_rows(AFRISENTI / "swa" / "test.tsv")
    write_copy(changed / "swa", {"test": sentiment_dataset({k: v[:-1] for k, v in rows.items()})})
    assert len(read_labelled(task_files("sentiment", f"hf:{changed}", "swa").test)) == len(rows["tweet"]) - 1


def test_tabs_and_line_breaks_in_a_tweet_become_spaces(tmp_path: Path) -> None:
    rows = {"tweet": ["a\ttab", "two\nlines", "   ", "fine"], "label": ["positive", "neutral", "neutral", "negative"]}
    write_copy(tmp_path / "copy", {"test": sentiment_dataset(rows, labels="string")}, "flat")
    test = task_files("sentiment", f"hf:{tmp_path / 'copy'}", "hau").test
    assert [(t.text, t.label) for t in read_labelled(test)] == [
        ("a tab", "positive"), ("two lines", "neutral"), ("fine", "negative")]  # the blank one is skipped


def _typed(values: list, dtype: str):
    from datasets import Dataset, Features, Value

    return Dataset.from_dict({"tweet": ["x"] * len(values), "label": values},
                             features=Features({"tweet": Value("string"), "label": Value(dtype)}))


@pytest.mark.parametrize(("make", "message"), [
    (lambda: _typed(["happy"], "string"), "label 'happy' is not one of negative, neutral, positive"),
    (lambda: _typed(["neutral", None], "string"), "label None is not one of negative, neutral, positive"),
    (lambda: _typed([0, 3], "int64"), "label 3 is not a label id (0..2)"),
    (lambda: _typed([0.5], "float64"), "column 'label' is Value('float64'"),
])
def test_bad_labels_are_one_clear_error(tmp_path: Path, make, message: str) -> None:
    write_copy(tmp_path / "copy", {"test": make()}, "flat")
    with pytest.raises(DataError, match=re.escape(message)):
        task_files("sentiment", f"hf:{tmp_path / 'copy'}", "hau")


def test_missing_column_and_config(copy: Path, tmp_path: Path) -> None:
    from datasets import Dataset

    write_copy(tmp_path / "nocol", {"test": Dataset.from_dict({"sentence": ["x"], "label": ["neutral"]})}, "flat")
    with pytest.raises(DataError, match=r"has no 'tweet' or 'text' column \(columns: sentence, label\); sentiment "
                                        r"data needs 'tweet' \(or 'text'\) and 'label'"):
        task_files("sentiment", f"hf:{tmp_path / 'nocol'}", "hau")
    with pytest.raises(DataError, match=r"no config 'yo' or 'yor' \(configs: hau, orm\)"):
        task_files("sentiment", f"hf:{copy}", "yo")
