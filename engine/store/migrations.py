"""Bringing a database written by an older xltui up to the current schema, in place.

Only additive steps (new nullable columns; new tables come from ``create_all``), each
in one transaction with the version bump, so an old database keeps every run and
result and a half-done upgrade cannot exist. A database newer than this xltui is
refused by ``engine.store.db.check_schema``, never downgraded.
"""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

# from version N to N + 1: (table, column, SQL type) to add, then statements to run (idempotent ones)
STEPS: dict[int, list[tuple[str, str, str]]] = {
    1: [("worker", "job_id", "VARCHAR"), ("worker", "job_index", "INTEGER")],
    2: [("run", "grad_accumulation", "INTEGER")],
    3: [("attempt", "resumed_step", "INTEGER"), ("attempt", "redone_steps", "INTEGER"), ("attempt", "saved_step", "INTEGER")],
}
SQL: dict[int, list[str]] = {
    1: ["DROP INDEX IF EXISTS ix_run_claim",
        "CREATE INDEX IF NOT EXISTS ix_run_claim_order ON run (status, priority DESC, id)"],
}


def upgrade(engine: Engine, version: int, target: int) -> int:
    """Apply the steps from ``version`` to ``target``; returns the version reached."""
    while version < target and version in STEPS:
        with engine.begin() as conn:
            have = {c["name"] for table in {t for t, _, _ in STEPS[version]}
                    for c in inspect(conn).get_columns(table)}
            for table, column, sql_type in STEPS[version]:
                if column not in have:  # a step interrupted before its commit left nothing behind, but be sure
                    conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}"))
            for statement in SQL.get(version, []):
                conn.execute(text(statement))
            version += 1
            conn.execute(text("UPDATE meta SET value = :v WHERE key = 'schema_version'"), {"v": str(version)})
    return version
