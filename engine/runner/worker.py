"""One worker process: a slot per device on one database engine, as `xltui worker`,
`xltui run` and a Slurm job start it.

The same object serves a terminal (Ctrl-C, SIGTERM) and a cluster job (submitit's
preemption signal), through one stop policy (engine.runner.stop): a REQUEUE or
PREEMPTED stops every slot's run and puts it back in the queue at once, so a preempted
or cancelled job costs no lease timeout.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Callable

from sqlalchemy.engine import Engine

from engine.runner.admission import GpuGate
from engine.runner.exits import visible_device
from engine.runner.slot import Slot, run_slots
from engine.runner.slot_setup import SlotOptions, slot_options
from engine.spec import StopAction
from engine.store.db import open_db, sqlite_path
from engine.store.queries import study_by_name
from engine.store.sharing import check_single_host, network_filesystem_warning


def sqlite_guard(engine: Engine, url: str) -> list[str]:
    """Warnings for a SQLite file on a network filesystem; refuses (SharedSqliteError) one
    already written by workers of another host."""
    path = sqlite_path(url)
    if path is None:
        return []
    check_single_host(engine, path, socket.gethostname())
    warning = network_filesystem_warning(path)
    return [warning] if warning else []


def make_slots(engine: Engine, opts: list[SlotOptions], runs_per_gpu: int | None,
               notify: Callable[[str], None] | None = None) -> list[Slot]:
    """The slots of one worker; those on GPUs share one admission gate (engine.runner.admission),
    which also measures how many runs shared each run's GPU."""
    gpus = [o for o in opts if o.device.startswith("cuda:")]
    gate = None
    if gpus:
        ids = [visible_device(o.device, os.environ.get("CUDA_VISIBLE_DEVICES")) for o in gpus]
        gate = GpuGate(engine, ids, runs_per_gpu)
    return [Slot(engine, o, notify=notify, gate=gate if o.device.startswith("cuda:") else None) for o in opts]


class WorkerProcess:
    """The slots of this process; ``start`` runs them in threads, ``wait`` until they end."""

    def __init__(self, url: str, devices: list[str], *, cpu_slots: int | None = None, study: str | None = None,
                 notify: Callable[[str], None] = print, runs_per_gpu: int | None = 1, **options) -> None:
        opts = slot_options(url, devices, cpu_slots, runs_per_gpu, **options)
        # a connection per slot thread at most: 40 workers and their runs fit in a server's budget
        self.engine = open_db(url, max_connections=len(opts),
                              name=f"xltui worker {socket.gethostname()}:{os.getpid()}")
        self.warnings = sqlite_guard(self.engine, url)
        if study is not None:
            row = study_by_name(self.engine, study)
            if row is None:
                raise LookupError(study)
            for o in opts:
                o.study_ids = (row.id,)
        self.slots = make_slots(self.engine, opts, runs_per_gpu, notify)
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        self.threads = run_slots(self.engine, self.slots)

    def wait(self, poll_s: float = 0.5) -> int:
        """Until every slot has stopped (short joins, so the main thread still handles signals)."""
        for thread in self.threads:
            while thread.is_alive():
                thread.join(poll_s)
        return self.runs_done

    def stop(self, action: StopAction = StopAction.FINISH, reason: str = "") -> None:
        """Do what a stop asks (engine.runner.stop) in every slot: claim no more; for REQUEUE and
        PREEMPTED also stop the current runs, which go back to the queue with ``reason``."""
        for s in self.slots:
            s.stop(action, reason)

    @property
    def runs_done(self) -> int:
        return sum(s.runs_done for s in self.slots)
