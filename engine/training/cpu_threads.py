"""A CPU run's torch threads, following its share of its worker's cores.

A worker's CPU runs share the cores it may use (``$XLTUI_CPU_CORES``, which the worker sets:
engine.runner.cpu_share). A run alone takes them all; two side by side take half each; when
one ends, the other takes them back. Each run keeps its own count: a thread of the run counts
its worker's running runs in the database every ``POLL_S`` seconds (never in a step), and the
loops apply the result between steps (``follow``: one comparison when nothing changed). The
count is set in the thread that trains, because OpenMP's thread count belongs to the thread
that sets it: set from the polling thread, it would not reach the training steps.

A smaller share is taken at the first read that shows it (a run started beside this one); a
larger one only when two reads in a row show it, so the second or so between a slot's run
ending and its next claim does not grow this run's pool just as the next run starts (in the
paper-offline study that happened every few runs, each time 3 busy threads on 2 cores for ~2 s).

Warm runs too: the launcher imports torch without running anything in parallel, so a forked
run builds its OpenMP pool at its first parallel operation, at its own count, and grows it
when the count grows (tests/training/test_cpu_threads.py; bench/vs_trainer.py times it).
Every count a run takes is a metric point ``cpu_threads`` at its step.
"""

from __future__ import annotations

import threading
from typing import Sequence

import torch
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from engine.settings import cpu_cores
from engine.store.telemetry import MetricWriter
from engine.store.worker_runs import running_runs, worker_process

POLL_S = 1.0  # how often a run counts its worker's running runs (one indexed read, in a thread of its own)
METRIC = "cpu_threads"


def share(cores: int, running: Sequence[int], run_id: int) -> int:
    """This run's threads: ``cores`` split evenly among the running runs (this one counted even
    where the database does not say so yet), one more each to the earliest while some are left
    over (3 cores, 2 runs: 2 and 1); never fewer than one."""
    ids = sorted({*running, run_id})
    base, extra = divmod(cores, len(ids))
    return max(1, base + (ids.index(run_id) < extra))


def settle(wanted: int, larger: int, read: int) -> tuple[int, int]:
    """(share to take, larger share pending) after a read: a smaller or equal share at once, a larger
    one when the read before showed it too (``larger``)."""
    if read <= wanted or read == larger:
        return read, 0
    return wanted, read


class CpuThreads:
    """One run's thread count, kept at its share of its worker's ``cores``."""

    def __init__(self, engine: Engine, run_id: int, worker_id: str, cores: int, writer: MetricWriter | None,
                 poll_s: float = POLL_S):
        self.engine, self.run_id, self.worker_id, self.cores = engine, run_id, worker_id, cores
        self.writer, self.poll_s = writer, poll_s
        self.wanted = self.applied = 0
        self.step = 0
        self._worker: tuple[str, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True, name="cpu-threads")

    def read(self) -> int:
        """The share now (a database read)."""
        if self._worker is None:
            self._worker = worker_process(self.engine, self.worker_id)
        running = running_runs(self.engine, *self._worker) if self._worker is not None else []
        return share(self.cores, running, self.run_id)

    def start(self) -> None:
        """Take the share now (before the model is built), then follow it."""
        try:
            self.wanted = self.read()
        except SQLAlchemyError:  # the first look failed: keep what it started with; the thread looks again
            self.wanted = torch.get_num_threads()
        self.follow(0)
        self._thread.start()

    def _poll(self) -> None:
        larger = 0  # a larger share read once, taken if the next read shows it again
        while not self._stop.wait(self.poll_s):
            try:
                now = self.read()
            except SQLAlchemyError:  # a busy or unreachable database: keep the count, look again later
                continue
            self.wanted, larger = settle(self.wanted, larger, now)

    def follow(self, step: int | None = None) -> None:
        """Between two steps (``step``: the one just done; None: the last one, e.g. while evaluating):
        take the share the polling thread last read, if it changed."""
        if step is not None:
            self.step = step
        if self.wanted != self.applied:
            torch.set_num_threads(self.wanted)
            self.applied = self.wanted
            if self.writer is not None:
                self.writer.log(self.step, **{METRIC: torch.get_num_threads()})

    def stop(self) -> None:
        self._stop.set()


_current: CpuThreads | None = None


def start(engine: Engine, run_id: int, worker_id: str, writer: MetricWriter | None, device: str) -> int:
    """In a worker's CPU run, set and follow its share of the worker's cores; the threads it has now."""
    global _current
    cores = cpu_cores()
    if device == "cpu" and cores is not None:
        _current = CpuThreads(engine, run_id, worker_id, cores, writer)
        _current.start()
    return torch.get_num_threads()


def follow(step: int | None = None) -> None:
    """Called by the loops between steps (and batches of an evaluation): nothing, unless this run's
    share changed since; nothing at all outside a worker's CPU run."""
    if _current is not None:
        _current.follow(step)


def stop() -> None:
    global _current
    if _current is not None:
        _current.stop()
        _current = None
