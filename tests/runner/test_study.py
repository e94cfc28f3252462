"""A grid taken to the queue once for every caller (engine.runner.study): what check_grid reports
on real data (XLTUI_DATA) and on broken files, without a database; read_known and queue_grid on
real SQLite files, through sqlite3 and SQLAlchemy alike. `xltui run`, `xltui grid validate|show`
and the composer only print or show this report (tests/cli, tests/grid, tests/tui)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlmodel import Session, select

from engine.analysis.design import design_check
from engine.grid.expand import expand
from engine.grid.schema import load_grid
from engine.grid.yamlfile import GridError
from engine.runner.study import check_grid, queue_grid, read_known
from engine.store.db import open_db
from engine.store.reader import SqliteReader
from engine.store.schema import Run, Study
from tests.support.env import DATA, TINY_GRID

TWO_MODELS = TINY_GRID.replace("  - {{name: tiny, model: tiny, method: full, lr: 1.0e-3}}",
                               "  - {{name: tiny, model: tiny, method: full, lr: 1.0e-3}}\n"
                               "  - {{name: tiny2, model: tiny, method: full, lr: 3.0e-3}}")
GOOD = "Obama B-PER\nsays O\nin O\nAbuja B-LOC\n\nNew B-LOC\nYork I-LOC\n\n"


def two_models(tmp_path: Path, seeds: str = "[1, 2]", name: str = "two.yaml") -> Path:
    path = tmp_path / name
    path.write_text(TWO_MODELS.format(study="two", seeds=seeds, epochs=1, patience=1, train=8, eval=8))
    return path


def local_data(root: Path, **files: str) -> Path:
    """An en/swa NER data folder of GOOD files; ``en_train="..."`` replaces one."""
    for lang in ("en", "swa"):
        for split in ("train", "dev", "test"):
            path = root / lang / f"{split}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files.get(f"{lang}_{split}", GOOD))
    return root


def local_grid(tmp_path: Path, data: Path) -> Path:
    grid = tmp_path / "local.yaml"
    grid.write_text(f"study: local\ntask: ner\nsource: en\ntargets: [swa]\ndata: {{ner: {data}}}\n"
                    "models: [{name: tiny, model: tiny, method: full}]\nsettings: [zero-shot]\nseeds: [1]\n")
    return grid


def test_a_grid_on_real_data_is_checked_whole_without_a_database(tmp_path):
    grid = two_models(tmp_path)
    report = check_grid(grid)
    assert report.ok and report.errors == [] and report.issues == [] and report.queued is None
    assert report.file == str(grid) and report.text == grid.read_text() and report.study == "two"
    specs = expand(load_grid(grid))
    assert report.n_runs == 4 and report.spec_hashes == [s.spec_hash() for s in specs]
    assert report.files_read == 4  # en train and dev (source), swa and yor test (targets): real MasakhaNER
    assert all(str(w).startswith(str(DATA)) for w in report.data_warnings)
    assert report.design == design_check(specs) and len(report.design) == 1  # tiny vs tiny2, ner zero-shot
    assert report.design_warnings == report.design[0].warnings() and report.design_warnings  # 2 seeds: too few
    assert report.known == {} and report.n_new == 4 and report.n_known == report.n_succeeded == 0
    assert list(tmp_path.iterdir()) == [grid]  # nothing written: no database, no cache beside the grid
    with pytest.raises(ValueError, match="not queued"):
        report.summary()


def test_unsaved_text_is_checked_as_the_file_it_will_be(tmp_path):
    text = two_models(tmp_path).read_text()
    report = check_grid(tmp_path / "configs" / "draft.yaml", text)  # the composer's text: no such file yet
    assert report.ok and report.text == text and report.file == str(tmp_path / "configs" / "draft.yaml")
    assert report.spec_hashes == check_grid(tmp_path / "two.yaml").spec_hashes


def test_a_bad_field_is_one_line_naming_file_line_and_field(tmp_path):
    grid = two_models(tmp_path, seeds="[1, x]")
    line = next(i for i, text in enumerate(grid.read_text().splitlines(), 1) if text.startswith("seeds:"))
    report = check_grid(grid)
    assert not report.ok and report.specs == [] and report.design == [] and report.files_read == 0
    assert report.errors == [str(i) for i in report.issues] == [f"{grid}:{line}: seeds[1]: expected a list of integers"]
    assert (report.issues[0].file, report.issues[0].line, report.issues[0].field) == (str(grid), line, "seeds[1]")
    with pytest.raises(GridError) as raised:
        report.raise_errors()
    assert str(raised.value) == report.errors[0]
    missing = check_grid(tmp_path / "nope.yaml")
    assert missing.text is None and missing.errors == [f"{tmp_path / 'nope.yaml'}: grid file not found"]


def test_data_files_are_read_line_by_line_unless_asked_not_to(tmp_path):
    data = local_data(tmp_path / "data", en_train=GOOD + "rejects\n", swa_test="Nairobi I-LOC\n\n")
    grid = local_grid(tmp_path, data)
    report = check_grid(grid)
    assert not report.ok and report.design == []
    assert report.errors == [f"{data / 'en/train.txt'}:9: expected 2 fields separated by a space or tab, "
                             "got 1: 'rejects'"]
    issue = report.issues[0]
    assert (issue.file, issue.line) == (str(data / "en/train.txt"), 9)
    assert [(w.file, w.line) for w in report.data_warnings] == [(str(data / "swa/test.txt"), 1)]
    shallow = check_grid(grid, read_files=False)  # `xltui grid show`: references resolved, files not parsed
    assert shallow.ok and shallow.files_read == 0 and shallow.data_warnings == [] and shallow.n_runs == 1
    (data / "en" / "dev.txt").unlink()
    gone = check_grid(grid, read_files=False)  # a missing split is the grid's own check, files read or not
    assert gone.errors == [f"{grid}:5: data.ner: language 'en' has no dev split in {data} (a source language "
                           "needs train and dev)"]


def test_queue_then_compare_then_queue_again_on_a_real_sqlite_file(tmp_path):
    grid = two_models(tmp_path)
    path = tmp_path / "experiments.db"
    engine = open_db(str(path))
    report = read_known(check_grid(grid), engine)
    assert report.known == {} and report.n_new == 4
    queued = queue_grid(engine, report)
    assert report.queued is queued and len(queued.new) == 4 and not queued.existing
    assert report.summary() == "study two: 4 runs in the grid — 4 new, 0 re-queued, 0 already in the database"
    with Session(engine) as session:
        study = session.exec(select(Study).where(Study.name == "two")).one()
        assert (study.grid_path, study.grid_text) == (str(grid.resolve()), grid.read_text())
        assert sorted(r.spec_hash for r in session.exec(select(Run))) == sorted(report.spec_hashes)

    with sqlite3.connect(path) as con:  # a run finished, as a worker would record it
        con.execute("UPDATE run SET status = 'succeeded' WHERE id = ?", (queued.new[0],))
    with SqliteReader(path) as reader:  # `xltui grid show` reads through sqlite3, the composer through its engine
        again = read_known(check_grid(grid), reader)
    assert again.known == read_known(check_grid(grid), engine).known
    assert again.n_known == 4 and again.n_new == 0 and again.n_succeeded == 1
    assert again.known[again.spec_hashes[0]] == (queued.new[0], "succeeded")
    queue_grid(engine, again)
    assert again.summary() == "study two: 4 runs in the grid — 0 new, 0 re-queued, 4 already in the database"
    rerun = check_grid(grid)
    queue_grid(engine, rerun, rerun=True, priority=5)
    assert rerun.summary() == "study two: 4 runs in the grid — 0 new, 1 re-queued, 3 already in the database"
    with Session(engine) as session:
        assert session.get(Run, queued.new[0]).priority == 5


def test_unsaved_text_is_queued_without_a_path_and_bad_input_never(tmp_path):
    path = tmp_path / "experiments.db"
    engine = open_db(str(path))
    text = two_models(tmp_path).read_text()
    report = check_grid(tmp_path / "draft.yaml", text)  # not on disk: the study keeps the text, no path
    queue_grid(engine, report, record_path=False)
    with Session(engine) as session:
        study = session.exec(select(Study).where(Study.name == "two")).one()
        assert (study.grid_path, study.grid_text) == (None, text)
    bad = check_grid(two_models(tmp_path, seeds="[3, x]", name="bad.yaml"))
    files = lambda: {p.name: p.read_bytes() for p in tmp_path.glob("experiments.db*")}
    before = files()
    with pytest.raises(GridError):
        queue_grid(engine, bad)
    assert bad.queued is None and files() == before
