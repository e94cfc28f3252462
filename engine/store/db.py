"""Opening the experiments database: WAL, busy timeout, schema version.

Many processes share one SQLite file (CLI, TUI, workers, run subprocesses), so
every connection gets WAL (readers never block the writer) and a long busy
timeout (writers queue instead of failing).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine, select

from engine.settings import db_setting
from engine.store.schema import SCHEMA_VERSION, Meta

BUSY_TIMEOUT_MS = 60_000


class StoreError(RuntimeError):
    """The database cannot be used as it is (missing, wrong schema)."""


def db_url(db: str | None) -> str:
    """A path or an SQLAlchemy URL (``--db`` / ``XLTUI_DB``) as an SQLAlchemy URL."""
    db = db_setting(db)
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):])
    return None


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def open_db(db: str | None, *, create: bool = True) -> Engine:
    """Open (and with ``create`` initialise) the database, checking its schema version.

    With ``create=False`` a missing SQLite file is an error rather than a new
    empty database, so read-only commands never leave files behind.
    """
    url = db_url(db)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        if not create:
            raise StoreError(f"no database at {path} (run `xltui run --grid FILE` first, or pass --db)")
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    if create:
        try:
            SQLModel.metadata.create_all(engine)
        except Exception as exc:
            raise StoreError(f"cannot open {url} as an xltui database: {exc.__class__.__name__}: {exc}") from exc
    check_schema(engine, url, create=create)
    return engine


def check_schema(engine: Engine, url: str, *, create: bool) -> None:
    with Session(engine) as session:
        try:
            row = session.exec(select(Meta).where(Meta.key == "schema_version")).first()
        except Exception as exc:  # a file that is not an xltui database
            raise StoreError(f"{url} is not an xltui database: {exc.__class__.__name__}: {exc}") from exc
        if row is None:
            if not create:
                raise StoreError(f"{url} is not an xltui database (no schema version)")
            session.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
            session.commit()
            return
        if int(row.value) != SCHEMA_VERSION:
            raise StoreError(
                f"{url} has schema version {row.value}, this xltui expects {SCHEMA_VERSION}: "
                "use a new --db or the xltui version that wrote it"
            )
