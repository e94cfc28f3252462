"""A consistent copy of a live SQLite database, taken while workers write to it.

Copying the file (``cp experiments.db``) while a worker commits can copy half a
transaction, and it misses whatever is still in the ``-wal`` file. SQLite's online
backup API copies the pages of one committed state. It copies them in one step, in one
read transaction: in WAL mode a reader never blocks a writer, so workers go on committing
while it copies; a backup in small steps would start again after every commit of another
process and, beside a busy worker, never finish. The copy is written to a
temporary file beside the target, checked with ``PRAGMA integrity_check`` and renamed into
place: a crash or a full disk never leaves a half-written backup under the target's name.

PostgreSQL has its own tool for this (``pg_dump``); ``backup_hint`` says how.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from engine.store.meta import StoreError

__all__ = ["BackupResult", "backup_hint", "backup_sqlite"]

@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    pages: int
    seconds: float
    runs: int
    results: int


def backup_sqlite(source: Path, target: Path, *, overwrite: bool = False) -> BackupResult:
    """Copy the SQLite database ``source`` to ``target`` (a new file unless ``overwrite``)."""
    if not source.exists():
        raise StoreError(f"no database at {source}")
    if target.resolve() == source.resolve():
        raise StoreError(f"the backup {target} is the database itself: name another file")
    if target.exists() and not overwrite:
        raise StoreError(f"{target} exists: name a new file, or pass --force to replace it")
    if not target.parent.is_dir():
        raise StoreError(f"no directory {target.parent} for the backup")
    tmp = target.with_name(f".{target.name}.partial-{os.getpid()}")
    started = time.perf_counter()
    try:
        with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=60)) as src, \
                closing(sqlite3.connect(tmp)) as dst:
            src.execute("PRAGMA busy_timeout=60000")
            if not src.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone():
                raise StoreError(f"{source} is not an xltui database (no meta table): nothing copied")
            src.backup(dst)  # all pages in one step, one read transaction (see above)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            check = dst.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise StoreError(f"the copy of {source} failed its integrity check: {check}")
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
            runs, results = (_count(dst, table) for table in ("run", "result"))
        os.replace(tmp, target)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot back up {source} to {target}: {exc}") from None
    except OSError as exc:  # e.g. the disk of the target is full
        raise StoreError(f"cannot write the backup {target}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return BackupResult(target, target.stat().st_size, pages, time.perf_counter() - started, runs, results)


def _count(conn: sqlite3.Connection, table: str) -> int:
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def backup_hint(shown_url: str) -> str:
    """What to do instead for a server database (``shown_url`` has its password masked)."""
    return (f"{shown_url} is a PostgreSQL database: back it up with PostgreSQL's own tool, e.g. "
            f"`pg_dump --format=custom --file=xltui.dump DBNAME` (restore with pg_restore); it takes a consistent "
            f"snapshot while workers write")
