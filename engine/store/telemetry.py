"""Metric points and system samples from a running run, written in batches.

A training loop logs a point per step; one SQLite transaction per point would
cost more than the step itself on a tiny model and contend with every other
writer. Points are buffered and flushed as one multi-row insert every
``flush_every`` points or ``flush_s`` seconds (and on close).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import psutil
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from engine.gpus import GpuError, read_gpus
from engine.store.schema import MetricPoint, SystemSample

SAMPLE_COLUMNS = ("device", "rss_bytes", "gpu_allocated_bytes", "gpu_reserved_bytes", "gpu_peak_bytes",
                  "gpu_util_percent")


class MetricWriter:
    """Thread-safe buffered writer of MetricPoint and SystemSample rows."""

    def __init__(self, engine: Engine, run_id: int, attempt_id: int, *, flush_every: int = 500, flush_s: float = 2.0):
        self.engine, self.run_id, self.attempt_id = engine, run_id, attempt_id
        self.flush_every, self.flush_s = flush_every, flush_s
        self._points: list[dict[str, Any]] = []
        self._samples: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()

    def log(self, step: int, **values: float) -> None:
        """Queue metric points; a non-finite value (a NaN loss) is not a number the DB can hold, and is
        left out rather than failing the run over its telemetry."""
        now = time.time()
        with self._lock:
            for name, value in values.items():
                if not math.isfinite(value):
                    continue
                self._points.append(dict(run_id=self.run_id, attempt_id=self.attempt_id, step=int(step),
                                         name=name, value=float(value), t=now))
        self._maybe_flush()

    def sample(self, **fields: Any) -> None:
        """Queue a system sample; a column not given is stored as NULL. Every row carries every
        column: a multi-row insert takes its columns from the first row, so a sample taken before
        CUDA was up would otherwise drop the GPU figures of the later ones in its batch."""
        row = dict.fromkeys(SAMPLE_COLUMNS) | fields
        with self._lock:
            self._samples.append(dict(row, run_id=self.run_id, attempt_id=self.attempt_id, t=time.time()))
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        due = len(self._points) + len(self._samples) >= self.flush_every
        if due or time.monotonic() - self._last_flush >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            points, samples = self._points, self._samples
            self._points, self._samples = [], []
            self._last_flush = time.monotonic()
        if not points and not samples:
            return
        with self.engine.begin() as conn:
            if points:
                conn.execute(insert(MetricPoint), points)
            if samples:
                conn.execute(insert(SystemSample), samples)

    def close(self) -> None:
        self.flush()


class CudaMemory(NamedTuple):
    """A run process's own GPU memory as torch counts it (engine.training reads it): plain numbers."""

    allocated_bytes: int
    reserved_bytes: int
    peak_bytes: int


def gpu_utilisation() -> float | None:
    """Utilisation of this process's GPU (the first of CUDA_VISIBLE_DEVICES) through engine.gpus;
    None where it is unknown."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    if not visible or visible == "-1":
        return None
    try:
        gpus = read_gpus([visible])
    except GpuError:  # NVML failing or the device gone: utilisation is simply unknown
        return None
    return gpus[0].util_percent if gpus else None


class SystemSampler(threading.Thread):
    """Samples process RSS and GPU memory/utilisation every ``interval_s`` seconds.

    ``gpu_memory`` gives the process's own GPU memory (None off a GPU or before CUDA is up): the
    run process passes engine.training's reader of torch's counters; the store never looks for torch."""

    def __init__(self, writer: MetricWriter, device: str, interval_s: float = 2.0, *,
                 gpu_memory: Callable[[], CudaMemory | None] | None = None):
        super().__init__(daemon=True, name="system-sampler")
        self.writer, self.device, self.interval_s = writer, device, interval_s
        self.gpu_memory = gpu_memory
        self._stop = threading.Event()
        self._proc = psutil.Process()

    def take(self) -> None:
        fields: dict[str, Any] = dict(device=self.device, rss_bytes=self._proc.memory_info().rss)
        mem = self.gpu_memory() if self.gpu_memory is not None else None
        if mem is not None:
            fields.update(gpu_allocated_bytes=mem.allocated_bytes, gpu_reserved_bytes=mem.reserved_bytes,
                          gpu_peak_bytes=mem.peak_bytes, gpu_util_percent=gpu_utilisation())
        self.writer.sample(**fields)

    def run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.take()

    def stop(self) -> None:
        self._stop.set()
        self.take()
