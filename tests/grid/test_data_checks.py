"""Data checked before queueing: every problem of every file a grid reads, as `file:line: message`,
through `xltui grid validate`, `xltui run` and the composer; nothing queued, the database untouched;
scans cached by content hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from engine.data import scan as scan_module
from engine.data.scan import scan_file
from engine.store.db import open_db
from tests.support.env import REPO, xltui, xltui_here
from tests.support.workers import enqueue_grid

GOOD = "Obama B-PER\nsays O\nin O\nAbuja B-LOC\n\nNew B-LOC\nYork I-LOC\n\n"

GRID = """\
study: checks
task: ner
source: en
targets: [swa]
data: {{ner: {data}}}
models: [{{name: tiny, model: tiny, method: full}}]
settings: [{settings}]
seeds: [1]
labels: {{unknown: {unknown}}}
train: {{batch_size: 8, max_length: 32, epochs: 1, max_train_sentences: 20, max_eval_sentences: 20}}
"""


def write_data(root: Path, files: dict[str, str | bytes]) -> Path:
    """``{"en/train.txt": text}``; every split not given is GOOD."""
    for lang in ("en", "swa"):
        for split in ("train", "dev", "test"):
            body = files.get(f"{lang}/{split}.txt", GOOD)
            path = root / lang / f"{split}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body if isinstance(body, bytes) else body.encode())
    return root


def write_grid(tmp_path: Path, data: Path, settings: str = "zero-shot", unknown: str = "O") -> Path:
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID.format(data=data, settings=settings, unknown=unknown))
    return grid


def errors_of(stderr: str) -> list[str]:
    return [line[len("error: "):] for line in stderr.splitlines() if line.startswith("error: ")]


def test_every_problem_of_every_file_is_named_with_its_line_and_nothing_is_queued(tmp_path: Path):
    data = write_data(tmp_path / "data", {
        "en/train.txt": GOOD + "rejects\nfine O\n\nAlso O\nPER\n",  # lines 9 and 13: no tag
        "en/dev.txt": "Obama PER\nsays O\n\nObama E-PER\n\nObama B-PER\n",  # not IOB2 (twice), BIOES
        "swa/test.txt": "Nairobi I-LOC\nni O\n\nJumanne B-DATE\n\n".encode() + b"caf\xe9 O\n",
        "swa/train.txt": b"\x00\x01binary",
    })
    grid = write_grid(tmp_path, data, settings="{few-shot: [1]}")
    db = tmp_path / "experiments.db"
    out = xltui("run", "--grid", str(grid), "--db", str(db))
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    errors = errors_of(out.stderr)
    train, dev, test = data / "en/train.txt", data / "en/dev.txt", data / "swa/test.txt"
    expected = [
        f"{train}:9: expected 2 fields separated by a space or tab, got 1: 'rejects'",
        f"{train}:13: expected 2 fields separated by a space or tab, got 1: 'PER'",
        f"{dev}:1: tag 'PER' is not IOB2 (O, B-TYPE or I-TYPE)",
        f"{dev}:4: tag 'E-PER' is not IOB2 (O, B-TYPE or I-TYPE); BIOES? convert the file to IOB2",
        f"{test}:6: not valid UTF-8 (byte 0xe9 at column 4)",
        f"{data / 'swa/train.txt'}:1: a binary file (NUL byte), not CoNLL text",
    ]
    assert errors == expected, errors
    assert not db.exists()  # checked before the database is opened


def test_warnings_say_what_happens_and_do_not_block(tmp_path: Path):
    data = write_data(tmp_path / "data", {"swa/test.txt": "Nairobi I-LOC\nni O\n\nJumanne B-DATE\nijayo I-DATE\n\n"
                                                          "Mombasa O\nI-LOC I-LOC\n"})
    grid = write_grid(tmp_path, data)
    out = xltui_here("grid", "validate", str(grid))
    assert out.returncode == 0, out.stderr
    test = data / "swa/test.txt"
    assert f"warning: {test}:1: I-LOC continues no LOC entity (2 in this file: lines 1, 8): not repaired" \
           in out.stderr
    assert "strict IOB2 scoring (seqeval, the MasakhaNER convention) counts no entity there" in out.stderr
    assert (f"warning: {test}:4: swa test: 2 tags not in the source label set (B-LOC, B-PER, I-LOC, O): B-DATE (1), "
            "I-DATE (1); labels.unknown: O scores them as O") in out.stderr
    assert "1 runs, 3 data files read" in out.stdout  # en train and dev, swa test

    strict = write_grid(tmp_path, data, unknown="error")
    out = xltui_here("grid", "validate", str(strict))
    assert out.returncode == 2
    assert errors_of(out.stderr) == [
        f"{test}:4: swa test: 2 tags not in the source label set (B-LOC, B-PER, I-LOC, O): B-DATE (1), I-DATE (1); "
        "labels.unknown: error stops the run — map them with labels.map (e.g. {B-DATE: O}) or set labels.unknown: O"]


def test_label_map_applies_before_the_unknown_tag_check(tmp_path: Path):
    data = write_data(tmp_path / "data", {"swa/test.txt": "Jumanne B-DATE\nijayo I-DATE\n\n"})
    grid = write_grid(tmp_path, data, unknown="error")
    grid.write_text(grid.read_text().replace("labels: {unknown: error}", "labels: {unknown: error, map: {DATE: O}}"))
    out = xltui_here("grid", "validate", str(grid))
    assert out.returncode == 0, out.stderr


def test_empty_split_and_k_larger_than_its_pool(tmp_path: Path):
    data = write_data(tmp_path / "data", {"en/dev.txt": "\n\n", "swa/train.txt": GOOD})
    grid = write_grid(tmp_path, data, settings="zero-shot, {few-shot: [1, 2, 5]}")
    out = xltui_here("grid", "validate", str(grid))
    assert errors_of(out.stderr) == [
        f"{data / 'en/dev.txt'}: no sentences: the en dev split (source) is empty",
        f"{data / 'swa/train.txt'}: few-shot K=2 for swa (tiny): the train split has 2 sentences, K must be "
        "less than 2",
        f"{data / 'swa/train.txt'}: few-shot K=5 for swa (tiny): the train split has 2 sentences, K must be "
        "less than 2",
    ], out.stderr


def test_conllu_problems_are_all_reported_one_per_sentence(tmp_path: Path):
    word = "{i}\t{form}\t_\t{upos}\t_\t_\t0\troot\t_\t_\n"
    good = "# sent_id = a\n" + word.format(i=1, form="Ọba", upos="NOUN") + "\n"
    body = (good
            + "# sent_id = b\n1 Ọba NOUN\n2\tx\t_\tNOUN\t_\t_\t0\troot\t_\t_\n\n"  # spaces: wrong column count
            + "# sent_id = c\n" + "3-4\tfoo\t_\t_\t_\t_\t_\t_\t_\t_\n" + word.format(i=1, form="x", upos="X") + "\n"
            + "# sent_id = d\n1-2\tfoo\t_\t_\t_\t_\t_\t_\t_\t_\n" + word.format(i=1, form="x", upos="NOUN") + "\n"
            + "# sent_id = e\n" + word.format(i=1, form="x", upos="NOUNS") + "\n")
    path = tmp_path / "yo-ud-test.conllu"
    path.write_text(body, encoding="utf-8")
    scan = scan_file(path, "conllu")
    problems = [(p.line, p.message.split(":")[0], p.severity) for p in scan.problems]
    assert problems == [
        (5, "expected 10 TAB-separated columns, got 1 (columns separated by spaces?)", "error"),
        (9, "multiword token 3-4 must come right before word 3", "error"),
        (13, "multiword token ends at word 2 but the sentence has 1 words", "error"),
        (17, "UPOS tag 'NOUNS' is not one of the 17 universal POS tags", "warning"),
    ], scan.problems
    assert scan.n_sentences == 2  # a and e; every broken sentence is left out


def test_scans_are_cached_by_content_not_by_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    first = tmp_path / "a.txt"
    first.write_text(GOOD + "bad\n")
    scan = scan_file(first, "conll")
    entry = Path(scan_module.cache_root()) / "scans" / f"{scan_module._key([first.read_bytes()], 'conll')}.json"
    assert entry.is_file()
    copy = tmp_path / "b.txt"
    copy.write_bytes(first.read_bytes())

    def no_parse(*args):
        raise AssertionError("parsed again although the same bytes were scanned before")

    monkeypatch.setattr(scan_module, "scan_bytes", no_parse)
    assert scan_file(copy, "conll") == scan  # another path, same bytes: from the cache
    copy.write_text(GOOD + f"{tmp_path.name} O\n")  # new bytes: scanned again
    with pytest.raises(AssertionError, match="parsed again"):
        scan_file(copy, "conll")


def test_composer_shows_data_errors_and_warnings_like_the_cli(tmp_path: Path):
    from engine.runner.study import check_grid
    from xltui.tui.composer_form import problem_lines

    data = write_data(tmp_path / "data", {"en/train.txt": GOOD + "rejects\n"})
    grid = write_grid(tmp_path, data)
    check = check_grid(grid, grid.read_text())
    assert problem_lines(check) == [f"error: {data / 'en/train.txt'}:9: expected 2 fields separated by a space or "
                                    "tab, got 1: 'rejects'"]
    write_data(data, {"swa/test.txt": "Nairobi I-LOC\n\n"})
    check = check_grid(grid, grid.read_text())
    assert check.ok and str(check.data_warnings[0]).startswith(f"{data / 'swa/test.txt'}:1: I-LOC continues no LOC")


def test_a_failed_check_leaves_an_existing_database_byte_identical(tmp_path: Path, tiny_grid):
    db = tmp_path / "experiments.db"
    assert enqueue_grid(str(db), tiny_grid())
    open_db(str(db)).dispose()
    data = write_data(tmp_path / "data", {"swa/test.txt": "ni\n"})
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.glob("experiments.db*")}
    out = xltui("run", "--grid", str(write_grid(tmp_path, data)), "--db", str(db))
    assert out.returncode == 2 and f"{data / 'swa/test.txt'}:1: expected 2 fields" in out.stderr
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.glob("experiments.db*")}
    assert after == before


def test_the_paper_grid_reads_its_real_data_clean():
    out = xltui_here("grid", "validate", str(REPO / "configs" / "paper.yaml"))
    assert out.returncode == 0, out.stderr
    assert "126 runs, 17 data files read" in out.stdout  # Swahili's language adapter is released: its text is not read
    warnings = [line for line in out.stderr.splitlines() if line.startswith("warning: ")]
    assert any("ner/hau/test.txt:12365: I-ORG continues no ORG entity" in w for w in warnings), out.stderr


def test_hugging_face_data_is_checked_once_converted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from tests.support.hf_copy import masakhaner_copy

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    data = write_data(tmp_path / "data" / "ner", {"swa/test.txt": "Nairobi I-LOC\nni O\n\n" + GOOD})
    copy = masakhaner_copy(tmp_path / "copy", tmp_path / "data", ("en", "swa"))
    grid = write_grid(tmp_path, data)
    grid.write_text(grid.read_text().replace(f"ner: {data}", f'ner: "hf:{copy}"'))
    out = xltui_here("grid", "validate", str(grid))
    assert out.returncode == 0, out.stderr
    converted = [line for line in out.stderr.splitlines() if "I-LOC continues no LOC entity" in line]
    assert len(converted) == 1 and converted[0].startswith(f"warning: {scan_module.cache_root() / 'hf'}"), out.stderr
    assert "test.txt:1: " in converted[0]
