"""Every connection the engine opens commits durably (synchronous=FULL in WAL mode): results,
outcomes and claims survive an OS crash, not only a process crash."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import text

from engine.store.db import make_engine, open_db


def test_every_sqlite_connection_is_full_and_wal(tmp_path):
    engine = open_db(str(tmp_path / "experiments.db"))
    for _ in range(2):  # a fresh connection each time: the setting is per connection
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        engine.dispose()
    worker_like = make_engine(f"sqlite:///{tmp_path / 'experiments.db'}", max_connections=1, name="xltui run 1")
    with worker_like.connect() as conn:
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2


def test_a_commit_is_on_disk_when_the_process_dies_at_once(tmp_path):
    """A process that commits and is killed (os._exit: no close, no checkpoint) leaves its row."""
    db = tmp_path / "experiments.db"
    open_db(str(db)).dispose()
    code = ("import os, sys; from sqlalchemy import text; from engine.store.db import open_db\n"
            "e = open_db(sys.argv[1])\n"
            "with e.begin() as c: c.execute(text(\"INSERT INTO study (name, external, created_at) VALUES ('kept', 0, 0)\"))\n"
            "os._exit(9)")
    assert subprocess.run([sys.executable, "-c", code, str(db)]).returncode == 9
    with open_db(str(db), create=False).connect() as conn:
        assert conn.execute(text("SELECT name FROM study")).scalars().all() == ["kept"]
