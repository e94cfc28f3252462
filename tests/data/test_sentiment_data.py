"""Sentiment data (AfriSenti TSVs, XLM-T English text + labels files): the strict reader and the
file scan on the real shared files and on malformed ones, where a reference's split files are,
and the tweets a language adapter learns from. Expected counts come from the data README and
are recounted here with the csv module, never with the reader under test."""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from engine.data import scan as scan_module
from engine.data.catalog import ner_files, pos_files, sentiment_files, task_files
from engine.data.refs import DataError
from engine.data.scan import Problem, scan_file
from engine.data.sentiment import LabelledText, read_labelled, xlmt_text
from engine.data.text import read_text
from tests.support.env import DATA

AFRISENTI = DATA / "sentiment" / "afrisenti"
XLMT = DATA / "sentiment" / "en_xlmt"
SPLITS = ("train", "dev", "test")
# the table of /work/shared/data/README.md's sentiment/ section (train, dev, test)
README = {"amh": (5984, 1497, 1999), "arq": (1651, 414, 958), "ary": (5583, 494, 2961), "hau": (14172, 2677, 5303),
          "ibo": (10192, 1841, 3682), "kin": (3302, 827, 1026), "orm": (0, 396, 2096), "pcm": (5121, 1281, 4154),
          "por": (3063, 767, 3662), "swa": (1810, 453, 748), "tir": (0, 398, 2000), "tso": (804, 203, 254),
          "twi": (3481, 388, 949), "yor": (8522, 2090, 4515)}
# The README says 1,838 / 323 / 869 English tweets: `wc -l` counts, which miss each file's last line (no final
# newline). The labels files hold one more label each, and 613 * 3 = 1,839 in train.
XLMT_COUNTS = {"train": 1839, "dev": 324, "test": 870}
XLMT_NAMES = {"train": "train", "dev": "val", "test": "test"}


@pytest.fixture(autouse=True)
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XLTUI_CACHE", str(tmp_path / "cache"))
    scan_module._memo.clear()


def csv_classes(path: Path) -> Counter[str]:
    """Label counts of a TSV, read with the csv module (the label is the last column)."""
    with open(path, encoding="utf-8", newline="") as fh:
        _header, *rows = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
    return Counter(row[-1] for row in rows)


# ----------------------------------------------------------------------------- the real files


@pytest.mark.parametrize("lang", sorted(README))
def test_every_afrisenti_language_reads_as_the_readme_counts(lang: str) -> None:
    files = task_files("sentiment", "afrisenti", lang)
    for split, n in zip(SPLITS, README[lang]):
        path = AFRISENTI / lang / f"{split}.tsv"
        assert path.is_file()
        if n == 0:  # Oromo and Tigrinya train.tsv: a header and nothing else, so no training split
            assert files.get(split) is None and csv_classes(path) == Counter()
            continue
        assert files.get(split) == path.resolve()
        texts = read_labelled(path)
        assert len(texts) == n == sum(csv_classes(path).values())
        assert Counter(t.label for t in texts) == csv_classes(path)
        scan = scan_file(path, "labelled-text")
        assert scan.problems == [] and scan.n_sentences == n and scan.tags == dict(csv_classes(path))


def test_english_xlmt_counts_and_balanced_training_classes() -> None:
    files = task_files("sentiment", "afrisenti", "en")
    assert task_files("sentiment", "afrisenti", "eng") == files
    for split, name in XLMT_NAMES.items():
        path = XLMT / f"{name}_text.txt"
        assert files.get(split) == path.resolve()
        gold = (XLMT / f"{name}_labels.txt").read_text(encoding="utf-8").split("\n")
        texts = read_labelled(path)
        assert len(texts) == len(gold) == XLMT_COUNTS[split]
        assert [t.label for t in texts] == [("negative", "neutral", "positive")[int(g)] for g in gold]
        assert [t.id for t in texts] == [f"line:{n}" for n in range(1, len(gold) + 1)]
        assert all("\t" not in t.text and "\n" not in t.text and t.text == t.text.strip() for t in texts)
        scan = scan_file(path, "labelled-text")
        assert scan.problems == [] and scan.n_sentences == XLMT_COUNTS[split]
    assert Counter(t.label for t in read_labelled(files.train)) == {"negative": 613, "neutral": 613, "positive": 613}


def test_english_escapes_and_csv_quotes_are_undone() -> None:
    raw = (XLMT / "train_text.txt").read_text(encoding="utf-8").split("\n")
    texts = read_labelled(XLMT / "train_text.txt")
    n = next(i for i, line in enumerate(raw) if "\\u2019" in line and "\\u002c" in line)
    assert "\u2019" in texts[n].text and "," in texts[n].text and "\\u" not in texts[n].text
    assert texts[n].text == raw[n].strip().strip('"').replace('""', '"').replace("\\u2019", "\u2019").replace(
        "\\u002c", ",")
    quoted = next(i for i, line in enumerate(raw) if '""' in line and "\\" not in line
                  and line.rstrip().startswith('"') and line.rstrip().endswith('"'))
    assert texts[quoted].text == next(csv.reader([raw[quoted].rstrip()]))[0]  # what a CSV parser makes of it
    assert '""' not in texts[quoted].text and '"' in texts[quoted].text


@pytest.mark.parametrize(("line", "text"), [
    ('"say ""hi"" now"  ', 'say "hi" now'),
    (r"laugh \ud83d\ude02 done", "laugh \U0001F602 done"),
    (r"lone \ud83d stays, C:\path and \u12 too", r"lone \ud83d stays, C:\path and \u12 too"),
    (r"tab\u0009and\u000aline", "tab and line"),
    ('"', '"'),
])
def test_xlmt_text_cleaning(line: str, text: str) -> None:
    assert xlmt_text(line) == text


def test_oromo_keeps_its_id_column() -> None:
    files = task_files("sentiment", "afrisenti", "orm")
    assert files.train is None
    with open(files.dev, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert rows[0] == ["ID", "tweet", "label"]
    texts = read_labelled(files.dev)
    assert [(t.id, t.label) for t in texts] == [(r[0], r[2]) for r in rows[1:]]
    assert texts[0] == LabelledText(rows[1][1], rows[1][2], "or_dev_00001")
    assert read_labelled(files.dev, limit=5) == texts[:5] and read_labelled(files.dev, limit=0) == []


# ----------------------------------------------------------------------------- references


@pytest.mark.parametrize(("alias", "code"), [("ha", "hau"), ("am", "amh"), ("sw", "swa"), ("yo", "yor"),
                                             ("pt", "por"), ("om", "orm"), ("ti", "tir"), ("rw", "kin")])
def test_two_letter_codes_resolve_to_the_afrisenti_folder(alias: str, code: str) -> None:
    assert task_files("sentiment", "afrisenti", alias) == task_files("sentiment", "afrisenti", code)
    assert sentiment_files("afrisenti", alias).test == (AFRISENTI / code / "test.tsv").resolve()


@pytest.mark.parametrize(("call", "message"), [
    (lambda: sentiment_files("afrisenti", "fon"), "afrisenti: no language 'fon' (AfriSenti: amh, arq, ary, hau"),
    (lambda: sentiment_files("masakhaner", "hau"), "'masakhaner' is an NER catalog name; sentiment data is "
                                                   "'afrisenti'"),
    (lambda: sentiment_files("ud:yo_ytb", "yor"), "'ud:yo_ytb' is a POS (UD) catalog name; sentiment data is"),
    (lambda: ner_files("afrisenti", "hau"), "'afrisenti' is a sentiment (AfriSenti) catalog name; NER data is "
                                            "'masakhaner' or a directory"),
    (lambda: pos_files("afrisenti", "yor"), "'afrisenti' is a sentiment (AfriSenti) catalog name; POS data is"),
    (lambda: ner_files("ud", "hau"), "'ud' is a POS (UD) catalog name; NER data is 'masakhaner' or a directory"),
    (lambda: pos_files("masakhaner", "hau"), "'masakhaner' is an NER catalog name; POS data is 'ud'"),
])
def test_wrong_references_are_clear_errors(call, message: str) -> None:
    with pytest.raises(DataError, match=re.escape(message)):
        call()


def test_local_directories(tmp_path: Path) -> None:
    per_lang = tmp_path / "per-lang"
    shutil.copytree(AFRISENTI / "hau", per_lang / "ha")  # an alias folder
    shutil.copytree(AFRISENTI / "tir", per_lang / "tir")
    files = sentiment_files(str(per_lang), "hau")
    assert files.train == per_lang / "ha" / "train.tsv" and files.test == per_lang / "ha" / "test.tsv"
    assert sentiment_files(str(per_lang), "ti").train is None  # header only: absent
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(AFRISENTI / "swa" / "dev.tsv", flat / "dev.tsv")
    assert sentiment_files(str(flat), "swa") == type(files)(None, flat / "dev.tsv", None)
    shutil.copytree(XLMT, tmp_path / "xlmt" / "en")
    files = task_files("sentiment", str(tmp_path / "xlmt"), "eng")
    assert files.dev == tmp_path / "xlmt" / "en" / "val_text.txt" and len(read_labelled(files.dev)) == 324
    (tmp_path / "xlmt" / "en" / "test_labels.txt").unlink()
    with pytest.raises(DataError, match=r"test_text.txt: no labels file test_labels.txt beside it"):
        sentiment_files(str(tmp_path / "xlmt"), "en")
    (tmp_path / "empty").mkdir()
    shutil.copy(AFRISENTI / "orm" / "train.tsv", tmp_path / "empty" / "train.tsv")
    with pytest.raises(DataError, match=r"no train.tsv, dev.tsv or test.tsv .* with tweets for language 'orm'"):
        sentiment_files(str(tmp_path / "empty"), "orm")
    with pytest.raises(DataError, match="data directory /nonexistent does not exist"):
        sentiment_files("/nonexistent", "hau")


# ----------------------------------------------------------------------------- malformed files

HEADER = "tweet\tlabel\n"
TSV_CASES = [
    ("wrong field count", HEADER + "good one\tpositive\ntoo\tmany\tneutral\n", 3,
     "expected 2 TAB-separated fields (tweet, label), found 3"),
    ("wrong field count with an ID column", "ID\ttweet\tlabel\na\tfine\tneutral\nno id\tpositive\n", 3,
     "expected 3 TAB-separated fields (ID, tweet, label), found 2"),
    ("label outside the set", HEADER + "fine\tneutral\nhappy\tPositive\n", 3,
     "label 'Positive' is not one of negative, neutral, positive"),
    ("invalid UTF-8", HEADER.encode() + b"ok\tneutral\nbad \xff byte\tnegative\n", 3,
     "not valid UTF-8 (byte 0xff at column 5)"),
    ("empty tweet", HEADER + "fine\tneutral\n  \tnegative\n", 3, "empty tweet"),
    ("empty file", "", 1, "empty file: expected the header 'tweet<TAB>label' (or 'ID<TAB>tweet<TAB>label')"),
    ("header only", HEADER, 1, "no texts: the file holds only its header"),
    ("no header", "first tweet\tneutral\n", 1, "expected the header 'tweet<TAB>label' (or 'ID<TAB>tweet<TAB>label'), "
     "found 'first tweet\\tneutral'"),
    ("NUL byte", HEADER.encode() + b"ok\tneutral\nbin\0ary\tneutral\n", 3, "NUL byte: a binary file, not text"),
    ("duplicate ID", "ID\ttweet\tlabel\na\tone\tneutral\na\ttwo\tneutral\n", 3, "duplicate ID 'a' (first on line 2)"),
]


def _write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.mark.parametrize(("content", "line", "message"), [c[1:] for c in TSV_CASES], ids=[c[0] for c in TSV_CASES])
def test_malformed_tsv_is_named_by_file_and_line(tmp_path: Path, content: str | bytes, line: int,
                                                 message: str) -> None:
    path = _write(tmp_path / "train.tsv", content)
    with pytest.raises(DataError) as err:
        read_labelled(path)
    assert str(err.value) == f"{path}:{line}: {message}"
    assert Problem(line, message) in scan_file(path, "labelled-text").problems


def _pair(folder: Path, text: str | bytes, labels: str | bytes) -> Path:
    _write(folder / "dev_labels.txt", labels)
    return _write(folder / "dev_text.txt", text)


XLMT_CASES = [
    ("labels file shorter", "one\ntwo\nthree\n", "0\n1\n", "text", 3,
     "dev_text.txt has 3 lines but dev_labels.txt has 2: each text needs its label on the same line"),
    ("labels file longer", "one\ntwo", "0\n1\n2\n\n", "text", 3,
     "dev_text.txt has 2 lines but dev_labels.txt has 3: each text needs its label on the same line"),
    ("label not an integer", "one\ntwo\n", "0\npositive\n", "labels", 2,
     "label 'positive' is not an integer 0..2 (0 = negative, 1 = neutral, 2 = positive)"),
    ("label out of range", "one\ntwo\n", "3\n1\n", "labels", 1,
     "label '3' is not an integer 0..2 (0 = negative, 1 = neutral, 2 = positive)"),
    ("invalid UTF-8 in the labels", "one\ntwo\n", b"0\n\xc3(\n", "labels", 2,
     "not valid UTF-8 (byte 0xc3 at column 1)"),
    ("invalid UTF-8 in the text", b"one\n\xe2\x82 two\n", "0\n1\n", "text", 2,
     "not valid UTF-8 (byte 0xe2 at column 1)"),
    ("empty text file", "", "", "text", 1, "empty file: no texts"),
    ("empty tweet", 'one\n""\n', "0\n1\n", "text", 2, "empty tweet"),
]


@pytest.mark.parametrize(("text", "labels", "where", "line", "message"), [c[1:] for c in XLMT_CASES],
                         ids=[c[0] for c in XLMT_CASES])
def test_malformed_xlmt_pair_is_named_by_file_and_line(tmp_path: Path, text: str | bytes, labels: str | bytes,
                                                       where: str, line: int, message: str) -> None:
    path = _pair(tmp_path, text, labels)
    named = path if where == "text" else tmp_path / "dev_labels.txt"
    with pytest.raises(DataError) as err:
        read_labelled(path)
    assert str(err.value) == f"{named}:{line}: {message}"
    # a scan problem carries a line of the text file: one from the labels file names that file
    shown = message if where == "text" else f"dev_labels.txt: {message}"
    assert Problem(line, shown) in scan_file(path, "labelled-text").problems


def test_missing_labels_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "test_text.txt", "one\n")
    with pytest.raises(DataError, match=r"test_text.txt: no labels file .*test_labels.txt"):
        read_labelled(path)
    assert [p.message for p in scan_file(path, "labelled-text").problems] == [
        "no labels file test_labels.txt beside it (XLM-T text needs one label per line there)"]


def test_the_reader_stops_at_the_first_problem_the_scan_lists_them_all(tmp_path: Path) -> None:
    path = _write(tmp_path / "train.tsv", HEADER + "ok\tneutral\nbad\tmeh\n\t\tx\nalso ok\tpositive\n"
                  "\tnegative\nok again\tnegative\n")
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}:3: label 'meh'"):
        read_labelled(path)
    scan = scan_file(path, "labelled-text")
    assert [(p.line, p.message.split(":")[0]) for p in scan.problems] == [
        (3, "label 'meh' is not one of negative, neutral, positive"),
        (4, "expected 2 TAB-separated fields (tweet, label), found 3"), (6, "empty tweet")]
    assert scan.n_sentences == 3 and scan.tags == {"neutral": 1, "positive": 1, "negative": 1}
    assert scan.first_line == {"neutral": 2, "positive": 5, "negative": 7}


def test_scan_stops_after_max_problems(tmp_path: Path) -> None:
    path = _write(tmp_path / "dev.tsv", HEADER + "x\tnope\n" * 50)
    problems = scan_file(path, "labelled-text").problems
    assert len(problems) == scan_module.MAX_PROBLEMS + 1 and problems[-1].line is None
    assert [p.line for p in problems[:-1]] == list(range(2, 2 + scan_module.MAX_PROBLEMS))


def test_scan_cache_covers_both_files_of_a_pair(tmp_path: Path) -> None:
    path = _pair(tmp_path, "one\ntwo\n", "0\n2\n")
    first = scan_file(path, "labelled-text")
    assert first.problems == [] and first.tags == {"negative": 1, "positive": 1}
    _write(tmp_path / "dev_labels.txt", "1\n1\n")  # same text bytes, other labels
    scan_module._memo.clear()
    assert scan_file(path, "labelled-text").tags == {"neutral": 2}
    entries = sorted((tmp_path / "cache" / "scans").glob("*.json"))
    assert len(entries) == 2 and json.loads(entries[0].read_text())["n_sentences"] == 2


def test_scan_refuses_the_old_task_names(tmp_path: Path) -> None:
    path = _write(tmp_path / "train.txt", "a O\n")
    with pytest.raises(ValueError, match="unknown data format 'ner'"):
        scan_file(path, "ner")  # type: ignore[arg-type]
    assert scan_file(path, "conll").n_sentences == 1


# ----------------------------------------------------------------------------- language adapter text


def test_read_text_gives_train_and_dev_tweets_never_test(tmp_path: Path) -> None:
    words = read_text("sentiment:afrisenti", "hau")
    texts = [t.text.split() for split in ("train", "dev") for t in read_labelled(AFRISENTI / "hau" / f"{split}.tsv")]
    assert words == texts and len(words) == 14172 + 2677
    copy = tmp_path / "hau"
    shutil.copytree(AFRISENTI / "hau", copy)
    _write(copy / "test.tsv", b"\xff\0 not a TSV at all")  # reading it would fail
    assert read_text(f"sentiment:{copy}", "hau") == words
    assert len(read_text("sentiment:afrisenti", "orm")) == 396  # no train split: dev only
    with pytest.raises(DataError, match="no train or dev text"):
        read_text(f"sentiment:{_only_test(tmp_path)}", "hau")


def _only_test(tmp_path: Path) -> Path:
    folder = tmp_path / "only-test"
    folder.mkdir()
    shutil.copy(AFRISENTI / "hau" / "test.tsv", folder / "test.tsv")
    return folder
