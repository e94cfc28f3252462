"""Read-only SQL for the commands people wait on, without importing SQLAlchemy for SQLite.

Importing SQLAlchemy and SQLModel costs ~0.3 s on a 2-core machine, more than the
whole of `xltui results` or `xltui grid show` is allowed (0.5 s). Those commands only
read, so on a SQLite file whose schema is current they read through the standard
library's ``sqlite3``; anything else (a server database, a file that needs upgrading
or is not an xltui database) goes through ``engine.store.db.open_db`` as before, with
its checks and messages. Both backends run the same SQL (``:name`` parameters are
understood by ``sqlite3`` and by SQLAlchemy's ``text()``), and every read of one
reader sees one snapshot of the database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from engine.settings import db_url_of
from engine.store.meta import SCHEMA_VERSION, SERVER_TIME_SQL, missing_db

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

BUSY_TIMEOUT_S = 60.0
IN_CHUNK = 500  # values per IN (...): well under SQLite's bound-parameter limit on old builds


class Reader(Protocol):
    """Rows of read-only SQL; every read until ``end()`` sees the same snapshot."""

    dialect: str  # "sqlite" | "postgresql": the few statements that differ pick by it

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple]: ...

    def end(self) -> None:
        """End this snapshot: the next read sees what was committed since (a poll's next round)."""

    def close(self) -> None: ...


class SqliteReader:
    """A SQLite file read with the standard library: no pragma changed, nothing written."""

    dialect = "sqlite"

    def __init__(self, path: Path):
        self.path = path
        # check_same_thread=False: the app's loader thread opens it, its poll goes on in that thread
        # or the next one, never two at once
        self._conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        if not self._conn.in_transaction:
            self._conn.execute("BEGIN")  # one read transaction: every query until end() sees one snapshot
        return self._conn.execute(sql, dict(params or {})).fetchall()

    def end(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")  # nothing was written: this only lets go of the snapshot

    def schema_version(self) -> int | None:
        """The version it was written with, or None when it does not look like an xltui database."""
        try:
            row = self.rows("SELECT value FROM meta WHERE key = 'schema_version'")
            return int(row[0][0]) if row else None
        except (sqlite3.DatabaseError, ValueError):
            return None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SqliteReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class EngineReader:
    """The same SQL through an SQLAlchemy engine (PostgreSQL, or an engine the caller holds)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect.name
        self._conn = engine.connect()  # begins a transaction on its first statement, until end()

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        from sqlalchemy import text

        return [tuple(r) for r in self._conn.execute(text(sql), dict(params or {}))]

    def end(self) -> None:
        self._conn.rollback()  # read-only: ends the transaction, never pins an old snapshot

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> EngineReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def current_sqlite_file(db: str | None) -> Path | None:
    """The SQLite file ``db`` names when it exists with this xltui's schema: readable as it is.

    None for anything else (a server URL, a missing, old, foreign or broken file), which
    ``engine.store.db.open_db`` creates, upgrades or explains.
    """
    url = db_url_of(db)
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url[len("sqlite:///"):])
    if not path.is_file():
        return None
    with SqliteReader(path) as reader:
        return path if reader.schema_version() == SCHEMA_VERSION else None


def open_reader(db: str | None) -> SqliteReader | EngineReader:
    """A reader of ``--db``; a missing SQLite file is an error (read-only commands create nothing)."""
    path = current_sqlite_file(db)
    if path is not None:
        return SqliteReader(path)
    url = db_url_of(db)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        raise missing_db(Path(url[len("sqlite:///"):]))
    from engine.store.db import open_db

    return EngineReader(open_db(db, create=False))


def reader_of(engine: Engine) -> SqliteReader | EngineReader:
    """A reader on the database ``engine`` opened: a SQLite file through ``sqlite3``, else the engine."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if database and database != ":memory:" and not database.startswith("file:"):
        return SqliteReader(Path(database))
    return EngineReader(engine)


@contextmanager
def reading(source: Engine | Reader) -> Iterator[Reader]:
    """``source`` as a reader: a reader as it is, an engine wrapped (and closed afterwards)."""
    if hasattr(source, "rows"):
        yield source  # type: ignore[misc]
        return
    reader = EngineReader(source)  # type: ignore[arg-type]
    try:
        yield reader
    finally:
        reader.close()


def server_now(reader: Reader) -> float:
    """The database server's time now: the clock stored times (heartbeats, starts) were taken by."""
    return float(reader.rows(f"SELECT {SERVER_TIME_SQL[reader.dialect]}")[0][0])


def placeholders(name: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """``:name_0, :name_1, …`` and its parameters, for ``IN (...)``."""
    params = {f"{name}_{i}": v for i, v in enumerate(values)}
    return ", ".join(f":{k}" for k in params), params


def chunked(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


def rows_in(reader: Reader, sql: str, values: Sequence[Any], params: Mapping[str, Any] | None = None,
            name: str = "ids") -> list[tuple]:
    """``sql`` whose ``{in}`` stands for a list of ``values``, run over them ``IN_CHUNK`` at a time."""
    out: list[tuple] = []
    for part in chunked(list(values)):
        marks, bound = placeholders(name, part)
        out.extend(reader.rows(sql.format(**{"in": marks}), {**(params or {}), **bound}))
    return out
