"""NER and POS keep their results when tasks became a table (#29): a database the version before
it stored (tests/store/stored/tagging.db, from tagging.yaml) reads to the same tables, its runs keep
their spec hashes, and the grid run again by today's code scores every run exactly as stored."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from engine.grid.expand import expand
from engine.grid.schema import load_grid
from engine.runner.plan import lang_adapter_specs
from engine.spec import parse_spec
from tests.support.env import xltui_here
from tests.support.stored_db import STORED, stored_copy

TIMINGS = ("train_seconds", "examples_per_s", "tokens_per_s", "s_per_step", "peak_rss_bytes", "peak_gpu_bytes",
           "mfu")


def stored_runs(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT spec_hash, spec_json FROM run ORDER BY id"))


def scores(db: Path) -> dict[tuple[str, str, str, str], float]:
    """Every stored score but how long a run took and what memory it used, by the run's spec hash."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT r.spec_hash, x.language, x.split, x.metric, x.value FROM result x "
                            "JOIN run r ON r.id = x.run_id")
        return {(h, lang, split, metric): value for h, lang, split, metric, value in rows if metric not in TIMINGS}


@pytest.mark.parametrize("task", ["ner", "pos"])
def test_the_stored_database_reads_to_the_same_tables(tmp_path: Path, task: str) -> None:
    db = stored_copy("tagging.db", tmp_path)
    got = xltui_here("results", "stored-tagging", "--db", str(db), "--task", task, "--format", "json", check=True)
    expected = json.loads((STORED / f"tagging-results-{task}.json").read_text())
    assert json.loads(got.stdout) == expected
    assert any(row.get("sentence") for table in [expected["comparison"]] if table
               for row in table["rows"]), "the stored tables include the sentence-level test"


def test_stored_runs_keep_their_spec_hashes() -> None:
    runs = stored_runs(STORED / "tagging.db")
    assert len(runs) == 10
    assert [parse_spec(spec_json).spec_hash() for _, spec_json in runs] == [h for h, _ in runs]
    specs = expand(load_grid(STORED / "tagging.yaml"))
    hashes = {s.spec_hash() for s in specs} | {a.spec_hash() for s in specs for a in lang_adapter_specs(s).values()}
    assert hashes == {h for h, _ in runs}


@pytest.mark.slow
def test_the_stored_grid_runs_again_to_the_same_scores(tmp_path: Path) -> None:
    db = tmp_path / "again.db"
    xltui_here("run", "--grid", str(STORED / "tagging.yaml"), "--db", str(db), check=True,
               env={"XLTUI_ARTIFACTS": str(tmp_path / "artifacts")})
    stored, again = scores(STORED / "tagging.db"), scores(db)
    assert len(stored) > 200 and any(k[2] == "test" and v > 0 for k, v in stored.items())
    assert again == stored
