"""A CPU run's torch threads: its share of its worker's cores, of those other processes leave free.

A worker with several CPU slots tells its runs the cores they share (``$XLTUI_CPU_CORES``:
engine.runner.cpu_share). A run alone takes them all; two side by side take half each; when
one ends, the other takes them back. Each run keeps its own count: a thread of the run looks
every ``POLL_S`` seconds (never in a step) and the loops apply what it found between steps
(``follow``: one comparison when nothing changed). The count is set in the thread that trains,
because OpenMP's thread count belongs to the thread that sets it: set from the polling thread,
it would not reach the training steps.

What the thread looks at:

* its worker's running runs, counted in the database (engine.store.worker_runs): its share;
* the cores busy with other processes since its last look (``/proc/stat`` over the cores this
  process may run on, less its own CPU time): a core half busy or more is not free. OpenMP
  waits at every parallel region for its slowest thread, and a thread that shares its core
  with another process is slow: on 2 cores with one busy elsewhere, the offline study's tiny
  NER run trained in 16-22 s at 2 threads against 2 s at 1, MiniLM's in 46-108 s against 35 s;
  at bench/vs_trainer.py's larger batches 2 threads only break even there. So a run uses a
  core that is free, never one that is not.

A smaller count is taken at the first look that shows it (a run started beside this one, a
process woke up); a larger one only when two looks in a row show it, so the moment between a
slot's run ending and its next claim, or a short burst elsewhere ending, does not grow this
run's pool just before it must shrink again.

Warm runs too: the launcher imports torch without running anything in parallel, so a forked
run builds its OpenMP pool at its first parallel operation, at its own count, and grows it
when the count grows (tests/training/test_cpu_threads.py). Every count a run takes is a
metric point ``cpu_threads`` at its step.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Sequence

import torch
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from engine.settings import cpu_cores, simulated_cpu_others
from engine.store.telemetry import MetricWriter
from engine.store.worker_runs import running_runs, worker_process

POLL_S = 1.0  # how often a run looks (one indexed read and /proc/stat, in a thread of its own)
MIN_LOOK_S = 0.5  # the shortest time over which other processes' use of the cores is measured
METRIC = "cpu_threads"
# /proc/stat's fields per CPU: user nice system idle iowait irq softirq steal …; busy is all but idle and iowait
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)


def share(cores: int, running: Sequence[int], run_id: int) -> int:
    """This run's threads: ``cores`` split evenly among the running runs (this one counted even
    where the database does not say so yet), one more each to the earliest while some are left
    over (3 cores, 2 runs: 2 and 1); never fewer than one."""
    ids = sorted({*running, run_id})
    base, extra = divmod(cores, len(ids))
    return max(1, base + (ids.index(run_id) < extra))


def free_cores(cpus: int, others: float) -> int:
    """The cores of ``cpus`` not taken by ``others`` busy cores, a core half busy or more counting
    as taken; at least one (this run's own)."""
    return max(1, cpus - int(others + 0.5))


def settle(wanted: int, larger: int, read: int) -> tuple[int, int]:
    """(count to take, larger count pending) after a look: a smaller or equal count at once, a larger
    one when the look before showed it too (``larger``)."""
    if read <= wanted or read == larger:
        return read, 0
    return wanted, read


class OtherLoad:
    """Cores busy with other processes than this one, among the cores it may run on, since the last
    look (Linux's ``/proc/stat``; elsewhere none is seen). ``$XLTUI_TEST_CPU_OTHERS`` stands in for it."""

    def __init__(self) -> None:
        self.cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
        self._names = {f"cpu{i}" for i in self.cpus}
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last = self._sample()
        self._seen = 0.0

    def _sample(self) -> tuple[float, float, float] | None:
        """(now, seconds the cores were busy, seconds this process ran), or None without /proc/stat."""
        try:
            with open("/proc/stat") as f:
                busy = 0
                for line in f:
                    name, _, rest = line.partition(" ")
                    if name in self._names:
                        fields = rest.split()
                        busy += sum(int(fields[i]) for i in BUSY_FIELDS if i < len(fields))
        except (OSError, ValueError):
            return None
        own = os.times()
        return time.monotonic(), busy / self._tick, own.user + own.system

    def cores(self) -> float:
        """Busy cores of other processes, on average since the last call."""
        simulated = simulated_cpu_others()
        if simulated is not None:
            return simulated
        now, last = self._sample(), self._last
        if now is None or last is None:
            return 0.0
        if now[0] - last[0] >= MIN_LOOK_S:  # shorter, /proc/stat's ticks (10 ms) would say little
            self._seen = max(0.0, ((now[1] - last[1]) - (now[2] - last[2])) / (now[0] - last[0]))
            self._last = now
        return self._seen


class CpuThreads:
    """One run's thread count, kept at its share of its worker's ``cores`` that are free."""

    def __init__(self, engine: Engine, run_id: int, worker_id: str, cores: int, writer: MetricWriter | None,
                 poll_s: float = POLL_S):
        self.engine, self.run_id, self.worker_id, self.cores = engine, run_id, worker_id, cores
        self.writer, self.poll_s = writer, poll_s
        self.wanted = self.applied = 0
        self.step = 0
        self.load = OtherLoad()
        self._worker: tuple[str, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def read(self) -> int:
        """The count now: this run's share (a database read), at most the cores other processes leave free."""
        if self._worker is None:
            self._worker = worker_process(self.engine, self.worker_id)
        running = running_runs(self.engine, *self._worker) if self._worker is not None else []
        return min(share(self.cores, running, self.run_id), free_cores(len(self.load.cpus), self.load.cores()))

    def start(self) -> None:
        """Take the count now (before the model is built), then follow it. Other processes' use of the
        cores cannot be told yet, so more threads than the run started with (``OMP_NUM_THREADS``, the
        cores over the worker's slots) wait for the first look to confirm them."""
        began = torch.get_num_threads()
        try:
            first = self.read()
        except SQLAlchemyError:  # the first look failed: keep what it started with; the thread looks again
            first = began
        self.wanted, larger = settle(began, 0, first)
        self.follow(0)
        self._thread = threading.Thread(target=self._poll, args=(larger,), daemon=True, name="cpu-threads")
        self._thread.start()

    def _poll(self, larger: int = 0) -> None:
        """``larger``: a larger count seen once, taken if the next look shows it again."""
        while not self._stop.wait(self.poll_s):
            try:
                now = self.read()
            except SQLAlchemyError:  # a busy or unreachable database: keep the count, look again later
                continue
            self.wanted, larger = settle(self.wanted, larger, now)

    def follow(self, step: int | None = None) -> None:
        """Between two steps (``step``: the one just done; None: the last one, e.g. while evaluating):
        take the count the polling thread last found, if it changed."""
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
    """In a CPU run of a worker with several CPU slots, set and follow its count; the threads it has now."""
    global _current
    cores = cpu_cores()
    if device == "cpu" and cores is not None:
        _current = CpuThreads(engine, run_id, worker_id, cores, writer)
        _current.start()
    return torch.get_num_threads()


def follow(step: int | None = None) -> None:
    """Called by the loops between steps (and batches of an evaluation): nothing, unless this run's
    count changed since; nothing at all outside such a run."""
    if _current is not None:
        _current.follow(step)


def stop() -> None:
    global _current
    if _current is not None:
        _current.stop()
        _current = None
