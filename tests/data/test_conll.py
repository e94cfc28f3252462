"""The CoNLL reader on every real MasakhaNER file, and on layout edge cases."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from engine.data.conll import ConllError, Sentence, read_conll, tag_set
from tests.support.env import DATA

NER = DATA / "ner"
# a missing data directory fails the test below (never a skip): set XLTUI_DATA
LANGS = sorted(p.name for p in NER.iterdir() if p.is_dir()) if NER.is_dir() else ["(no data: set XLTUI_DATA)"]
SPLITS = ("train", "dev", "test")
LABELS = {"O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"}


def _independent_counts(path: Path) -> tuple[int, list[str]]:
    """Sentences = maximal runs of non-blank lines; tokens = first word of each non-blank line."""
    lines = path.read_bytes().decode("utf-8").split("\n")
    runs = [list(g) for blank, g in itertools.groupby(lines, key=lambda line: line.strip() == "") if not blank]
    return len(runs), [line.split(" ")[0] for run in runs for line in run]


@pytest.mark.parametrize("lang", LANGS)
def test_every_language_file(lang: str) -> None:
    for split in SPLITS:
        path = NER / lang / f"{split}.txt"
        assert path.is_file(), path
        sents = read_conll(path)
        n_sents, tokens = _independent_counts(path)
        assert len(sents) == n_sents, (path, len(sents), n_sents)
        assert [t for s in sents for t in s.tokens] == tokens, path
        assert all(len(s) > 0 and len(s.tokens) == len(s.tags) for s in sents), path
        assert set(tag_set(sents)) <= LABELS, (path, tag_set(sents))


@pytest.mark.parametrize(("lang", "n_train"), [("en", 14_041), ("am", 1_750)])
def test_documented_train_sizes(lang: str, n_train: int) -> None:
    path = NER / lang / "train.txt"
    assert len(read_conll(path)) == n_train


def _write(tmp_path: Path, text: str, name: str = "x.txt") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8"))
    return p


EXPECTED = [
    Sentence(("Obi", "lives"), ("B-PER", "O")),
    Sentence(("in", "Lagos", "."), ("O", "B-LOC", "O")),
]


def test_crlf_and_trailing_whitespace(tmp_path: Path) -> None:
    p = _write(tmp_path, "Obi B-PER  \r\nlives\tO\r\n\r\nin O\r\nLagos B-LOC\t\r\n. O\r\n\r\n")
    assert read_conll(p) == EXPECTED


def test_no_final_blank_line_and_no_final_newline(tmp_path: Path) -> None:
    assert read_conll(_write(tmp_path, "Obi B-PER\nlives O\n\nin O\nLagos B-LOC\n. O\n")) == EXPECTED
    assert read_conll(_write(tmp_path, "Obi B-PER\nlives O\n\nin O\nLagos B-LOC\n. O")) == EXPECTED


def test_several_blank_lines_and_docstart(tmp_path: Path) -> None:
    text = "\n\n-DOCSTART- -X- -X- O\n\nObi B-PER\nlives O\n \n\n\t\n-DOCSTART- O\nin O\nLagos B-LOC\n. O\n\n\n"
    assert read_conll(_write(tmp_path, text)) == EXPECTED


def test_unicode_tokens_and_bom(tmp_path: Path) -> None:
    # Ge'ez, Yoruba combining marks, a zero-width space and a no-break space are tokens, not separators
    text = "\ufeffአዲስ B-LOC\nọ̀rọ̀ O\n\u200b O\n\u00a0 O\n"
    sents = read_conll(_write(tmp_path, text))
    assert sents == [Sentence(("አዲስ", "ọ̀rọ̀", "\u200b", "\u00a0"), ("B-LOC", "O", "O", "O"))]


def test_empty_file(tmp_path: Path) -> None:
    assert read_conll(_write(tmp_path, "")) == []
    assert read_conll(_write(tmp_path, "\n\n\n")) == []


@pytest.mark.parametrize(
    ("text", "lineno"),
    [
        ("Obi B-PER\nlives O\n\nin O extra\n", 4),  # three fields
        ("Obi B-PER\nlivesO\n", 2),  # one field
        ("\r\n\r\nObi B-PER\r\nLagos\r\n", 4),  # CRLF keeps line numbers right
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, text: str, lineno: int) -> None:
    p = _write(tmp_path, text, "bad.txt")
    with pytest.raises(ConllError) as e:
        read_conll(p)
    assert str(e.value).startswith(f"{p}:{lineno}: ")
    assert isinstance(e.value, ValueError)


def test_invalid_utf8_is_a_conll_error(tmp_path: Path) -> None:
    p = tmp_path / "latin1.txt"
    p.write_bytes("Zürich B-LOC\n".encode("latin-1"))
    with pytest.raises(ConllError, match="UTF-8"):
        read_conll(p)


def test_limit(tmp_path: Path) -> None:
    p = _write(tmp_path, "a O\n\nb O\n\nc O\n\nthis line is malformed\n")
    assert [s.tokens for s in read_conll(p, limit=2)] == [("a",), ("b",)]
    assert read_conll(p, limit=0) == []
    assert len(read_conll(p, limit=3)) == 3  # stops before reaching the bad line
    with pytest.raises(ConllError):
        read_conll(p, limit=4)
    with pytest.raises(ValueError):
        read_conll(p, limit=-1)


def test_limit_on_real_data() -> None:
    path = NER / "en" / "dev.txt"
    assert read_conll(path, limit=10) == read_conll(path)[:10]


def test_tag_set_o_first() -> None:
    sents = [Sentence(("a", "b"), ("I-PER", "O")), Sentence(("c",), ("B-LOC",)), Sentence(("d",), ("B-PER",))]
    assert tag_set(sents) == ["O", "B-LOC", "B-PER", "I-PER"]
    assert tag_set([]) == []


def test_sentence_lengths_must_match() -> None:
    with pytest.raises(ValueError):
        Sentence(("a", "b"), ("O",))
