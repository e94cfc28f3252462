"""A database stored by an earlier version (tests/store/stored/), opened as a user would open it.

Its artifact rows name the run folders the earlier version wrote (under /tmp/xltui-artifacts);
the predictions those rows name are kept beside it, so a copy whose paths point there reads
exactly what the earlier version's `xltui results` read."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

STORED = Path(__file__).resolve().parents[1] / "store" / "stored"
WRITTEN_UNDER = "/tmp/st3-art/"  # where the earlier version's runs wrote their artifacts (XLTUI_ARTIFACTS)


def stored_copy(name: str, folder: Path) -> Path:
    """A copy of ``STORED/name`` in ``folder`` whose artifact paths point at the kept files."""
    db = folder / name
    shutil.copy(STORED / name, db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE artifact SET path = replace(path, ?, ?)", (WRITTEN_UNDER, f"{STORED / 'artifacts'}/"))
    return db
