"""Per-device state for the workers screen: this host's GPUs plus the runs' own samples.

The GPUs come from ``engine.gpus`` (NVML, or the fake GPUs of ``$XLTUI_TEST_GPUS``): what
every GPU is doing, busy with our runs or not; the run processes' samples in the database
add torch's allocated / reserved / peak memory (and RSS for CPU runs) of each run on it: a
worker with ``--runs-per-gpu`` puts several on one GPU. No torch here.

A probe that fails (NVML there but erring) is said in words on the workers screen
(``DeviceReader.gpu_error``: what failed, when the GPUs are probed again) and probed again
after a back-off that doubles while it keeps failing, from ``RETRY_FIRST_S`` to
``RETRY_MAX_S``; the GPUs it could still read stay on screen meanwhile.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

from engine.gpus import Gpu, GpuError, read_gpus
from engine.states import RunStatus
from engine.store.live_reads import system_samples
from engine.store.reader import Reader

HISTORY = 150
RETRY_FIRST_S = 2.0  # the first probe again after a failure; doubled per failure in a row
RETRY_MAX_S = 60.0

GpuProbe = Callable[[], list[Gpu]]  # raises on failure (engine.gpus.GpuError: its ``gpus`` still shown)


def nvml_gpus() -> list[Gpu]:
    """The app's probe: every GPU of this host (engine.gpus); [] on a CPU box, GpuError where NVML fails."""
    return read_gpus()


@dataclass
class RunMemory:
    """One run on a device, by its own latest sample (torch's figures on a GPU, RSS on the CPU)."""

    run_id: int
    allocated: int | None = None
    reserved: int | None = None
    peak: int | None = None
    rss: int | None = None
    util: float | None = None
    history: list[tuple[float, int | None, int | None, float | None, int | None]] = field(default_factory=list)
    # t, allocated, reserved, util, rss


def _total(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


@dataclass
class DeviceState:
    """A device and the runs on it (several where a worker packs a GPU or splits the CPU)."""

    device: str  # cuda:N | cpu
    name: str = ""
    util: float | None = None
    mem_used: int | None = None  # NVML, whole device
    mem_total: int | None = None
    runs: list[RunMemory] = field(default_factory=list)

    @property
    def run_id(self) -> int | None:
        return self.runs[0].run_id if self.runs else None

    # the device's share of torch's memory: its runs' figures added up
    @property
    def allocated(self) -> int | None:
        return _total([r.allocated for r in self.runs])

    @property
    def reserved(self) -> int | None:
        return _total([r.reserved for r in self.runs])

    @property
    def peak(self) -> int | None:
        return _total([r.peak for r in self.runs])

    @property
    def rss(self) -> int | None:
        return _total([r.rss for r in self.runs])

    @property
    def history(self) -> list[tuple[float, int | None, int | None, float | None, int | None]]:
        return self.runs[0].history if self.runs else []


class DeviceReader:
    """Per-device state each poll; each running attempt's samples are read incrementally."""

    def __init__(self, probe: GpuProbe | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.probe, self.clock = probe, clock
        self.gpu_error: str | None = None  # what the last probe failed on and when the next one is; None: fine
        self._gpus: list[Gpu] = []
        self._failures = 0  # failed probes in a row
        self._failed = ""
        self._retry_at = -math.inf
        self._history: dict[int, list[tuple]] = {}  # attempt -> (t, rss, alloc, reserved, peak, util), newest last

    def gpus(self) -> list[Gpu]:
        """The probe's GPUs now; after a failure the GPUs it still read, until the back-off has passed."""
        if self.probe is None:
            return []
        now = self.clock()
        if now >= self._retry_at:
            try:
                self._gpus = list(self.probe())
                self._failures, self._failed, self._retry_at = 0, "", -math.inf
            except Exception as exc:  # any probe's failure is said and tried again, never fatal
                self._gpus = list(exc.gpus) if isinstance(exc, GpuError) else []
                self._failures += 1
                self._failed = str(exc) if isinstance(exc, GpuError) else f"{exc.__class__.__name__}: {exc}"
                self._retry_at = now + min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** (self._failures - 1))
        self.gpu_error = None if not self._failed else (
            f"GPUs not read: {self._failed}" + (f" ({self._failures} times in a row)" if self._failures > 1 else "")
            + f"; probing again in {max(0, math.ceil(self._retry_at - now))} s")
        return self._gpus

    def read(self, reader: Reader, runs: list) -> list[DeviceState]:
        """One entry per GPU the probe sees and per device a run is running on (``runs``: running RunRows)."""
        states: dict[str, DeviceState] = {}
        for gpu in self.gpus():
            states[f"cuda:{gpu.id}"] = DeviceState(f"cuda:{gpu.id}", gpu.name, gpu.util_percent, gpu.used_bytes,
                                                   gpu.total_bytes)
        live: set[int] = set()
        for run in sorted(runs, key=lambda r: r.id):
            if run.status != RunStatus.RUNNING or not run.device or run.attempt_id is None:
                continue
            live.add(run.attempt_id)
            state = states.setdefault(run.device, DeviceState(run.device, "CPU" if run.device == "cpu" else ""))
            cache = self._history.setdefault(run.attempt_id, [])
            cache.extend(system_samples(reader, run.attempt_id, cache[-1][0] if cache else float("-inf"),
                                        limit=HISTORY))
            del cache[:-HISTORY]
            mem = RunMemory(run.id, history=[(t, alloc, reserved, util, rss)
                                             for t, rss, alloc, reserved, _peak, util in cache])
            if cache:
                _t, mem.rss, mem.allocated, mem.reserved, mem.peak, mem.util = cache[-1]
                if state.util is None:
                    state.util = mem.util
            state.runs.append(mem)
        for gone in set(self._history) - live:
            del self._history[gone]
        return sorted(states.values(), key=lambda s: (s.device == "cpu", s.device))
