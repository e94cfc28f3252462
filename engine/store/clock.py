"""The database server's clock: the one clock every worker on every host shares.

Leases, heartbeats and "expired" are judged by it, never by a worker's own clock,
so two machines whose clocks differ by minutes (or hours) cannot take each other's
runs. ``server_time()`` is an SQL expression evaluated by the server (SQLite, being
in-process, reads the host's clock: one host, one clock); ``db_now`` reads it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Float
from sqlmodel import Session

from engine.store.meta import SERVER_TIME_SQL


class server_time(FunctionElement):
    """POSIX seconds (float) by the database server's clock, as the SQL of each backend."""

    type = Float()
    inherit_cache = True
    name = "server_time"


@compiles(server_time)
def _sqlite(_element: Any, _compiler: Any, **_kw: Any) -> str:
    return SERVER_TIME_SQL["sqlite"]


@compiles(server_time, "postgresql")
def _postgresql(_element: Any, _compiler: Any, **_kw: Any) -> str:
    return SERVER_TIME_SQL["postgresql"]


def db_now(bind: Session | Connection | Engine) -> float:
    """The server's time now; with an Engine, on a connection of its own."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return float(conn.execute(select(server_time())).scalar_one())
    return float(bind.execute(select(server_time())).scalar_one())
