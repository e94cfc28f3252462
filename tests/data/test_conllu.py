"""The CoNLL-U reader on every real UD file of the data README, and on edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.data.conll import ConllError, Sentence
from engine.data.conllu import UPOS_TAGS, UDSentence, read_conllu
from tests.support.env import DATA

POS = DATA / "pos"

# (file, sentences, words) exactly as in the data README's pos/ table
README_TABLE = [
    ("en_ewt/en_ewt-ud-dev.conllu", 2_001, 25_147),
    ("en_ewt/en_ewt-ud-test.conllu", 2_077, 25_094),
    ("yo_ytb/yo_ytb-ud-test.conllu", 317, 8_243),
    ("am_att/am_att-ud-test.conllu", 1_074, 10_010),
]


@pytest.mark.parametrize(("rel", "n_sents", "n_words"), README_TABLE)
def test_every_readme_file(rel: str, n_sents: int, n_words: int) -> None:
    path = POS / rel
    assert path.is_file(), f"{path} is missing (the data directory comes from XLTUI_DATA)"
    sents = read_conllu(path)
    assert len(sents) == n_sents, (path, len(sents))
    assert sum(len(s) for s in sents) == n_words, path
    assert all(isinstance(s, UDSentence) and len(s) > 0 and len(s.tokens) == len(s.tags) for s in sents)
    assert {t for s in sents for t in s.tags} <= set(UPOS_TAGS), path
    ids = [s.sent_id for s in sents]
    assert len(set(ids)) == len(ids) and all(ids), path
    assert not any(i.startswith(f"{path.stem}:") for i in ids), "every real sentence has a # sent_id"


def test_upos_tags() -> None:
    assert len(UPOS_TAGS) == len(set(UPOS_TAGS)) == 17


def test_amharic_multiword_tokens_give_their_words() -> None:
    # upstream: "1-3 መጽሐፉን" then words 1 2 3, "4-6 አስያዛት" then words 4 5 6, then 7
    first = read_conllu(POS / "am_att/am_att-ud-test.conllu", limit=1)
    assert first == [
        UDSentence(
            tokens=("መጽሐፍ", "ኡ", "ን", "አስያዝ", "ኧ", "ኣት", "።"),
            tags=("NOUN", "DET", "PART", "VERB", "PRON", "PRON", "PUNCT"),
            sent_id="data_UD-Sleepwalking-26-s1",
        )
    ]


def test_limit_on_real_data() -> None:
    path = POS / "en_ewt/en_ewt-ud-test.conllu"
    assert read_conllu(path, limit=10) == read_conllu(path)[:10]


def test_is_a_sentence() -> None:
    s = UDSentence(tokens=("a", "b"), tags=("DET", "NOUN"), sent_id="s1")
    assert isinstance(s, Sentence) and len(s) == 2 and s.tokens == ("a", "b") and s.tags == ("DET", "NOUN")
    with pytest.raises(ValueError):
        UDSentence(tokens=("a", "b"), tags=("DET",), sent_id="s1")
    with pytest.raises(TypeError):
        UDSentence(("a",), ("DET",))  # sent_id is required


# --- edge cases on small files ------------------------------------------------------


def row(wid: str, form: str = "w", upos: str = "X") -> str:
    """One CoNLL-U line: ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC."""
    return f"{wid}\t{form}\t_\t{upos}\t_\t_\t0\tdep\t_\t_"


def _write(tmp_path: Path, lines: list[str] | str, name: str = "x.conllu", nl: str = "\n") -> Path:
    p = tmp_path / name
    text = lines if isinstance(lines, str) else nl.join(lines)
    p.write_bytes(text.encode("utf-8"))
    return p


DONT = [
    "# newdoc id = d1",
    "# sent_id = s1",
    "# text = Don't go.",
    row("1-2", "Don't", "_"),
    row("1", "Do", "AUX"),
    row("2", "n't", "PART"),
    row("3", "go", "VERB"),
    row("4", ".", "PUNCT"),
    "",
    "# sent_id = s2",
    row("1", "I", "PRON"),
    row("2", "left", "VERB"),
    row("2.1", "left", "VERB"),  # empty node: not a word
    row("3", "early", "ADV"),
    "",
]
DONT_EXPECTED = [
    UDSentence(tokens=("Do", "n't", "go", "."), tags=("AUX", "PART", "VERB", "PUNCT"), sent_id="s1"),
    UDSentence(tokens=("I", "left", "early"), tags=("PRON", "VERB", "ADV"), sent_id="s2"),
]


def test_multiword_token_empty_node_and_comments(tmp_path: Path) -> None:
    assert read_conllu(_write(tmp_path, DONT)) == DONT_EXPECTED


def test_empty_node_8_1_is_not_a_word(tmp_path: Path) -> None:
    lines = [row(str(i), f"w{i}") for i in range(1, 9)] + [row("8.1", "GHOST", "VERB"), row("9", "w9"), ""]
    [s] = read_conllu(_write(tmp_path, lines))
    assert s.tokens == tuple(f"w{i}" for i in range(1, 10))
    assert "GHOST" not in s.tokens and "VERB" not in s.tags
    # an empty node right after the comments (0.1) is skipped too
    [s] = read_conllu(_write(tmp_path, ["# sent_id = a", row("0.1", "GHOST"), row("1", "w1"), ""]))
    assert s.tokens == ("w1",)


def test_crlf_no_final_blank_line_no_final_newline_bom(tmp_path: Path) -> None:
    assert read_conllu(_write(tmp_path, DONT, nl="\r\n")) == DONT_EXPECTED
    assert read_conllu(_write(tmp_path, "\n".join(DONT[:-1]))) == DONT_EXPECTED  # ends on the last word
    assert read_conllu(_write(tmp_path, "\n".join(DONT[:-1]) + "\n")) == DONT_EXPECTED
    assert read_conllu(_write(tmp_path, "\ufeff" + "\n".join(DONT))) == DONT_EXPECTED


def test_blank_lines_and_stray_comments(tmp_path: Path) -> None:
    lines = ["", "# global.columns = ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC", "", " ", *DONT, "", "\t", ""]
    assert read_conllu(_write(tmp_path, lines)) == DONT_EXPECTED
    assert read_conllu(_write(tmp_path, "")) == []


def test_sent_id_fallback_and_spacing(tmp_path: Path) -> None:
    lines = [row("1", "a"), "", "# sent_id=tight", row("1", "b"), "", "# other = c", row("1", "c"), ""]
    sents = read_conllu(_write(tmp_path, lines, name="yo-test.conllu"))
    assert [s.sent_id for s in sents] == ["yo-test:0", "tight", "yo-test:2"]


def test_forms_keep_spaces_and_unicode(tmp_path: Path) -> None:
    lines = [row("1", "New York", "PROPN"), row("2", "ọ̀rọ̀", "NOUN"), row("3", "_", "PUNCT"), ""]
    [s] = read_conllu(_write(tmp_path, lines))
    assert s.tokens == ("New York", "ọ̀rọ̀", "_")


def test_limit(tmp_path: Path) -> None:
    p = _write(tmp_path, [row("1", "a"), "", row("1", "b"), "", row("1", "c"), "", "this line is malformed", ""])
    assert [s.tokens for s in read_conllu(p, limit=2)] == [("a",), ("b",)]
    assert read_conllu(p, limit=0) == []
    assert len(read_conllu(p, limit=3)) == 3  # stops before reaching the bad line
    with pytest.raises(ConllError):
        read_conllu(p, limit=4)
    with pytest.raises(ValueError):
        read_conllu(p, limit=-1)


@pytest.mark.parametrize(
    ("lines", "lineno", "match"),
    [
        (["# sent_id = a", row("1"), "2\tw\t_\tX", ""], 3, "expected 10 TAB-separated columns, got 4"),
        ([row("1") + "\t_", ""], 1, "got 11"),
        (["# c", "1 w _ X _ _ 0 dep _ _", ""], 2, "spaces"),
        ([row("1"), "", row("1"), row("x"), ""], 4, "bad ID 'x'"),
        ([row("0"), ""], 1, "bad ID '0'"),
        ([row("1-"), ""], 1, "bad ID"),
        ([row("1"), row("3"), ""], 2, "out of order, expected 2"),
        ([row("1"), row("2", upos="_"), ""], 2, "UPOS"),
        ([row("1", upos=""), ""], 1, "UPOS"),
        ([row("1", form=""), ""], 1, "empty FORM"),
        ([row("2-2", "_", "_"), row("2"), ""], 1, "bad multiword token range 2-2"),
        ([row("1"), row("3-4", "_", "_"), ""], 2, "must come right before word 3"),
        ([row("1-3", "_", "_"), row("1"), row("2-3", "_", "_"), ""], 3, "overlaps"),
        ([row("1-3", "_", "_"), row("1"), row("2"), "", row("1"), ""], 1, "ends at word 3 but the sentence has 2"),
        ([row("1"), row("2"), row("1.1"), ""], 3, "empty node 1.1 must come right after word 1"),
        (["# sent_id = a", "# sent_id = b", row("1"), ""], 2, "second sent_id"),
        (["# sent_id = ", row("1"), ""], 1, "empty sent_id"),
        (["# sent_id = a", row("1"), "", "", "# sent_id = a", row("1"), ""], 5,
         r"duplicate sent_id 'a' \(first at line 1\)"),
        (["# sent_id = a", ""], 1, "without words"),
        (["\r\n", "\r\n", row("1") + "\r\n", "2\tw\r\n"], 4, "got 2"),  # CRLF keeps line numbers right
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, lines: list[str], lineno: int, match: str) -> None:
    text = "".join(lines) if lines[0].endswith("\r\n") else "\n".join(lines)
    p = _write(tmp_path, text, "bad.conllu")
    with pytest.raises(ConllError, match=match) as e:
        read_conllu(p)
    assert str(e.value).startswith(f"{p}:{lineno}: "), str(e.value)


def test_invalid_utf8_is_a_conll_error(tmp_path: Path) -> None:
    p = tmp_path / "latin1.conllu"
    p.write_bytes((row("1", "Zürich", "PROPN") + "\n").encode("latin-1"))
    with pytest.raises(ConllError, match="UTF-8"):
        read_conllu(p)
