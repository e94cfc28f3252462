"""Opening the experiments database: WAL, busy timeout, schema version.

Many processes share one SQLite file (CLI, TUI, workers, run subprocesses), so
every connection gets WAL (readers never block the writer) and a long busy
timeout (writers queue instead of failing).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError
from sqlmodel import Session, SQLModel, create_engine, select

from engine.settings import db_url_of, mask_url, scrub, url_secrets
from engine.store.meta import SCHEMA_VERSION, StoreError, missing_db
from engine.store.migrations import upgrade
from engine.store.schema import Meta

BUSY_TIMEOUT_MS = 60_000
CONNECT_TIMEOUT_S = 10


def db_url(db: str | None) -> str:
    """A path or an SQLAlchemy URL (``--db`` / ``XLTUI_DB``) as an SQLAlchemy URL."""
    return db_url_of(db)


def sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):])
    return None


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # FULL: a commit is on disk before it returns, so an OS crash or power loss cannot roll back a
    # finished run's results, an attempt's outcome or a claim (NORMAL in WAL mode can lose the last
    # commits). Metric points are batched (engine.store.telemetry), so the extra fsync per commit is
    # paid a few times a second, not per point (bench/metric_writes.py measures both settings).
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str, *, max_connections: int | None = None, name: str = "xltui") -> Engine:
    """An engine for ``url``; on a server database at most ``max_connections`` at once (if given).

    A server has a fixed budget of connections (PostgreSQL: ``max_connections = 100``)
    shared by every worker and run of a lab, so a process holds no more than it uses at
    once: a worker one per slot thread, a run process one (its sampler thread waits for
    the main thread's turn; writes are short). ``name`` is shown in ``pg_stat_activity``.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict = {}
    if url.startswith("postgresql"):
        # a host that does not answer fails in seconds, not after the OS's TCP timeout of minutes
        connect_args = {"connect_timeout": CONNECT_TIMEOUT_S, "application_name": name[:63]}
    pool: dict = {} if max_connections is None else {"pool_size": max_connections, "max_overflow": 0}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **pool)


def safe_url(url: str) -> str:
    """The URL as it may be shown: a password becomes ``***`` (logs, screens and bug reports see this),
    also one given as ``?password=`` or typed with a raw @ or / in it."""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except Exception:  # not parseable as a URL: show only its scheme
        return url.split("://", 1)[0] + "://…"
    if any(secret in shown for secret in url_secrets(url)):  # a query password, or a raw @ SQLAlchemy split at
        return mask_url(url)
    return shown


def _reason(exc: BaseException, url: str) -> str:
    """The driver's first line of why a connection failed, with any password scrubbed."""
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split("\n")[0].split())
    password = make_url(url).password
    text = text.replace(str(password), "***") if password else text
    return scrub(text, url)


def _sqlite_tables(path: Path, url: str) -> set[str]:
    """The tables of an existing SQLite file, read without changing a byte of it (no WAL switch)."""
    try:
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
            return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:  # e.g. a file that is not SQLite at all
        raise StoreError(f"{safe_url(url)} is not an xltui database: {exc}") from None


def _tables(engine: Engine, url: str) -> set[str]:
    """The tables a server database holds now; one that cannot be reached is one clear line."""
    try:
        return set(inspect(engine).get_table_names())
    except OperationalError as exc:
        u = make_url(url)
        where = f"{u.host or 'localhost'}:{u.port or 'default port'}"
        raise StoreError(f"cannot connect to the database at {where} ({safe_url(url)}): {_reason(exc, url)}") from None
    except DatabaseError as exc:  # connected, but may not look (e.g. no permission on the schema)
        raise StoreError(f"cannot read the tables of {safe_url(url)}: {_reason(exc, url)}") from None


def open_db(db: str | None, *, create: bool = True, max_connections: int | None = None,
            name: str = "xltui") -> Engine:
    """Open (and with ``create`` initialise) the database, checking its schema version.

    With ``create=False`` a missing SQLite file is an error rather than a new
    empty database, so read-only commands never leave files behind. An empty
    server database (PostgreSQL) is initialised on first use, as a new SQLite file
    is; a database holding another application's tables is refused, never adopted.
    """
    url = db_url(db)
    shown = safe_url(url)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        if not create:
            raise missing_db(path)
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = make_engine(url, max_connections=max_connections, name=name)  # loads the driver; connects when used
    except ModuleNotFoundError as exc:
        raise StoreError(f"{shown}: the database driver is not installed ({exc.name}); for PostgreSQL use "
                         "postgresql+psycopg://… (psycopg comes with xltui)") from None
    except (NoSuchModuleError, ArgumentError) as exc:
        raise StoreError(f"{shown}: not a database URL xltui can open ({exc}); use a file path or "
                         "postgresql+psycopg://USER:PASSWORD@HOST/DB") from None
    if path is None:
        tables = _tables(engine, url)
    else:  # read before the engine's first connection switches the file to WAL
        tables = _sqlite_tables(path, url) if path.exists() else set()
    if tables and Meta.__tablename__ not in tables:
        shown_tables = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
        raise StoreError(f"{shown} is not an xltui database: it holds other tables ({shown_tables}); "
                         "use an empty database or another --db")
    initialise = create or (path is None and not tables)
    if initialise:
        try:
            SQLModel.metadata.create_all(engine)
        except Exception as exc:
            raise StoreError(f"cannot open {shown} as an xltui database: {exc.__class__.__name__}: "
                             f"{_reason(exc, url)}") from exc
    check_schema(engine, shown, create=initialise)
    return engine


def check_schema(engine: Engine, url: str, *, create: bool) -> None:
    """``url`` as shown (no password)."""
    with Session(engine) as session:
        try:
            row = session.exec(select(Meta).where(Meta.key == "schema_version")).first()
        except Exception as exc:  # a file that is not an xltui database
            raise StoreError(f"{url} is not an xltui database: {exc.__class__.__name__}: "
                             f"{' '.join(str(exc).split())[:200]}") from exc
        if row is None:
            if not create:
                raise StoreError(f"{url} is not an xltui database (no schema version)")
            session.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
            session.commit()
            return
        version = int(row.value)
        if version < SCHEMA_VERSION:
            session.close()
            SQLModel.metadata.create_all(engine)  # tables added since (existing ones are left as they are)
            version = upgrade(engine, version, SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{url} has schema version {row.value}, this xltui expects {SCHEMA_VERSION}: "
                "use a new --db or the xltui version that wrote it"
            )
