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
from typing import Any

import psutil
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from engine.store.schema import MetricPoint, SystemSample


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
        with self._lock:
            self._samples.append(dict(run_id=self.run_id, attempt_id=self.attempt_id, t=time.time(), **fields))
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


def cuda_memory() -> dict[str, int] | None:
    """torch.cuda memory counters of this process, or None off CUDA (torch already imported)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    return dict(
        gpu_allocated_bytes=int(torch.cuda.memory_allocated()),
        gpu_reserved_bytes=int(torch.cuda.memory_reserved()),
        gpu_peak_bytes=int(torch.cuda.max_memory_allocated()),
    )


def gpu_utilisation() -> float | None:
    """Utilisation of this process's GPU through NVML (no torch needed); None without one."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    if not visible or visible == "-1":
        return None
    try:
        import pynvml

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(int(visible.split(",")[0]))
        return float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
    except Exception:  # NVML missing or device gone: utilisation is simply unknown
        return None


class SystemSampler(threading.Thread):
    """Samples process RSS and GPU memory/utilisation every ``interval_s`` seconds."""

    def __init__(self, writer: MetricWriter, device: str, interval_s: float = 2.0):
        super().__init__(daemon=True, name="system-sampler")
        self.writer, self.device, self.interval_s = writer, device, interval_s
        self._stop = threading.Event()
        self._proc = psutil.Process()

    def take(self) -> None:
        fields: dict[str, Any] = dict(device=self.device, rss_bytes=self._proc.memory_info().rss)
        mem = cuda_memory()
        if mem:
            fields.update(mem, gpu_util_percent=gpu_utilisation())
        self.writer.sample(**fields)

    def run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.take()

    def stop(self) -> None:
        self._stop.set()
        self.take()
