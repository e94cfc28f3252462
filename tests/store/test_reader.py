"""engine.store.reader: the read path of `xltui results` and `xltui grid show` without
SQLAlchemy on a current SQLite file, the ORM path everywhere else, the same rows from both."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.analysis.scores import read_scores
from engine.store.db import StoreError, open_db
from engine.store.meta import SCHEMA_VERSION
from engine.store.reader import EngineReader, SqliteReader, open_reader, rows_in
from tests.support.env import xltui
from tests.support.stored_runs import SCORES, build_stored_runs


@pytest.mark.parametrize("any_db", ["sqlite", "postgresql"], indirect=True)
def test_open_reader_reads_what_the_orm_engine_reads(any_db):
    build_stored_runs(any_db, failed=(("xlmr", 9),), queued=(("mbert", 7),))
    with open_reader(any_db) as reader:
        assert isinstance(reader, SqliteReader if "://" not in any_db else EngineReader)
        fast = read_scores(reader, ["own"])
    with EngineReader(open_db(any_db, create=False)) as reader:
        slow = read_scores(reader, ["own"])
    assert fast == slow
    assert len(fast.scores) == sum(len(per) for langs in SCORES.values() for per in langs.values()) * 3
    assert fast.status[("xlmr", "ner", "zero-shot", "swa")].failed == 1


def test_rows_in_covers_lists_longer_than_one_chunk(db):
    build_stored_runs(db)
    with open_reader(db) as reader:
        ids = [i for (i,) in reader.rows("SELECT id FROM run ORDER BY id")]
        wanted = ids + list(range(10_000, 11_200))  # 1,200 ids that match nothing: three chunks
        assert [i for (i,) in rows_in(reader, "SELECT id FROM run WHERE id IN ({in}) ORDER BY id", wanted)] == ids


def test_a_reader_sees_one_snapshot_while_a_worker_writes(db):
    build_stored_runs(db)
    with open_reader(db) as reader:
        before = reader.rows("SELECT count(*) FROM run")
        with sqlite3.connect(db) as conn:  # another process's commit, between two reads of one report
            conn.execute("DELETE FROM result")
        assert reader.rows("SELECT count(*) FROM run") == before
        assert reader.rows("SELECT count(*) FROM result")[0][0] > 0
    with open_reader(db) as reader:
        assert reader.rows("SELECT count(*) FROM result") == [(0,)]


def test_an_older_file_goes_through_open_db_and_is_upgraded(db):
    build_stored_runs(db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with open_reader(db) as reader:
        assert isinstance(reader, EngineReader)  # the fast path never reads a schema it does not know
        assert read_scores(reader, ["own"]).scores
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)


def test_missing_and_foreign_files_are_one_clear_error_and_stay_untouched(tmp_path):
    with pytest.raises(StoreError, match="no database at"):
        open_reader(str(tmp_path / "nothing.db"))
    assert not (tmp_path / "nothing.db").exists()
    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    before = foreign.read_bytes()
    out = xltui("results", "own", "--db", str(foreign))
    assert out.returncode == 2 and "is not an xltui database: it holds other tables (invoices)" in out.stderr
    assert "Traceback" not in out.stderr and foreign.read_bytes() == before
    out = xltui("grid", "show", str(Path("configs/paper-offline.yaml").resolve()), "--db", str(foreign))
    assert out.returncode == 2 and "is not an xltui database" in out.stderr


def _queue_view(reader, now: float) -> tuple:
    from engine.store import queue_reads as q

    runs = q.run_rows(reader)
    return (q.study_summaries(reader, now), runs, q.progress_of(reader, runs), q.waiting_runs(reader),
            q.live_workers(reader, now), q.run_rows(reader, study_id=1, statuses=("running", "failed")))


def test_status_and_the_app_read_the_same_through_sqlite3_and_sqlalchemy(tmp_path):
    """`xltui status` and the app's poll read a current SQLite file through sqlite3; what they
    read must be what the SQLAlchemy path (PostgreSQL, tests on an Engine) reads."""
    from engine.store.reader import reader_of
    from tests.support.tui import T0, demo_db, demo_gpus
    from xltui.tui.snapshot import SnapshotReader

    path, ids = demo_db(tmp_path / "demo")
    engine = open_db(path, create=False)
    with SqliteReader(Path(path)) as fast, EngineReader(engine) as slow:
        assert isinstance(reader_of(engine), SqliteReader)
        view = _queue_view(fast, T0)
        assert view == _queue_view(slow, T0)
        summaries, runs, progress, _waiting, workers, some = view
        assert {r.status for r in some} == {"running", "failed"} and workers  # the demo has both, and live workers
        assert any(p.step for p in progress.values()) and sum(s.total for s in summaries) == len(runs)
    snaps = []
    for source in (lambda: SqliteReader(Path(path)), lambda: EngineReader(engine)):
        reader = SnapshotReader(source, clock=lambda: T0, gpu_probe=demo_gpus)
        reader.read()
        snap = reader.read(detail_run_id=ids["running"])  # the opened run: series, samples, log, results
        snaps.append((snap.studies, snap.runs, snap.workers, snap.devices, snap.detail))
        reader.close()
    assert snaps[0] == snaps[1]
    assert snaps[0][4] is not None and snaps[0][4].series


def test_a_polling_reader_sees_commits_after_end_and_not_before(db):
    build_stored_runs(db)
    reader = SqliteReader(Path(db))
    try:
        before = reader.rows("SELECT count(*) FROM result")[0][0]
        with sqlite3.connect(db) as conn:
            conn.execute("DELETE FROM result")
        assert reader.rows("SELECT count(*) FROM result")[0][0] == before > 0
        reader.end()  # the poll's next round
        assert reader.rows("SELECT count(*) FROM result") == [(0,)]
    finally:
        reader.close()


STATUS_WITHOUT_THE_ORM = """
import sys
from typer.testing import CliRunner
from xltui.cli import app
for extra in ([], ["--runs"], ["--failed"], ["--study", "pos-ud"]):
    result = CliRunner().invoke(app, ["status", "--db", sys.argv[1], *extra])
    assert result.exit_code == 0, result.output
    assert "Studies" in result.output and "pos-ud" in result.output, result.output
heavy = [m for m in ("sqlalchemy", "sqlmodel", "engine.spec", "torch", "textual") if m in sys.modules]
assert not heavy, heavy
print("light")
"""


def test_status_on_a_current_sqlite_file_imports_neither_sqlalchemy_nor_the_spec(tmp_path):
    """SQLAlchemy + SQLModel cost ~0.3 s to import: `xltui status` must stay under 0.5 s. (pydantic
    itself comes with typer's adapters; engine.spec's models would add ~0.1 s to it.)"""
    import subprocess
    import sys

    from tests.support.tui import demo_db

    path, _ = demo_db(tmp_path / "demo")
    out = subprocess.run([sys.executable, "-c", STATUS_WITHOUT_THE_ORM, path], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("light"), out.stdout[-800:] + out.stderr
