"""The runs one worker process has running now, across its slots: what its CPU runs count to
split its cores between them (engine.training.cpu_threads).

A slot's id is ``host:pid:label``; the slots of one worker process are the rows of the
workers table with its host and pid, read from the row itself (the id's spelling is the
slot's business). A run counts from its claim to its end (``running``), also while its
slot waits for a warm launcher: it is about to start.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from engine.spec import RunStatus
from engine.store.schema import Run, Worker


def worker_process(engine: Engine, worker_id: str) -> tuple[str, int] | None:
    """(host, pid) of the worker process the slot ``worker_id`` belongs to; None without its row."""
    with Session(engine) as session:
        row = session.get(Worker, worker_id)
        return None if row is None else (row.host, row.pid)


def running_runs(engine: Engine, host: str, pid: int) -> list[int]:
    """Ids of the runs the worker process ``pid`` on ``host`` has running now (every slot), ascending.
    One indexed read (the claim-order index starts with the status)."""
    slots = select(Worker.id).where(Worker.host == host, Worker.pid == pid)
    with Session(engine) as session:
        return list(session.exec(select(Run.id).where(Run.status == RunStatus.RUNNING,
                                                      Run.worker_id.in_(slots)).order_by(Run.id)))
