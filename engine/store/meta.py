"""What every opener checks before it trusts a database, kept free of SQLAlchemy.

The schema version this xltui writes and the error for a database it cannot use live
here (stdlib only) so the read path of the commands people wait on
(``engine.store.reader``) can check a SQLite file without importing the ORM.
"""

from __future__ import annotations

from pathlib import Path

SCHEMA_VERSION = 4  # engine.store.migrations brings older databases up to it

# POSIX seconds by the database server's clock, per backend (engine.store.clock explains why)
SERVER_TIME_SQL = {
    "sqlite": "((julianday('now') - 2440587.5) * 86400.0)",
    # clock_timestamp(), not now(): now() is frozen at the start of the transaction
    "postgresql": "CAST(extract(epoch from clock_timestamp()) AS DOUBLE PRECISION)",
}


class StoreError(RuntimeError):
    """The database cannot be used as it is (missing, wrong schema)."""


def missing_db(path: Path) -> StoreError:
    """A read-only command pointed at a SQLite file that does not exist."""
    return StoreError(f"no database at {path} (run `xltui run --grid FILE` first, or pass --db)")
