"""Per-device state for the workers screen: NVML on this host plus the runs' own samples.

NVML (nvidia-ml-py) says what every GPU is doing, busy with our runs or not;
the run processes' samples in the database add torch's allocated / reserved /
peak memory (and RSS for CPU runs) of each run on it: a worker with
``--runs-per-gpu`` puts several on one GPU. No torch here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

from engine.runner.gpu_probe import fake_gpus
from engine.settings import TEST_GPUS_ENV
from engine.states import RunStatus
from engine.store.live_reads import system_samples
from engine.store.reader import Reader

HISTORY = 150


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    mem_used: int
    mem_total: int
    util: float | None


GpuProbe = Callable[[], list[GpuInfo]]
_nvml_broken = False


def nvml_gpus() -> list[GpuInfo]:
    """Every GPU NVML sees on this host; [] without a driver (never raises)."""
    global _nvml_broken
    if os.environ.get(TEST_GPUS_ENV, "").strip():  # fake GPUs (tests, demos on a CPU box), as workers see them
        return [GpuInfo(int(g.id), g.name, g.total_bytes - g.free_bytes, g.total_bytes, None)
                for g in fake_gpus(os.environ[TEST_GPUS_ENV])]
    if _nvml_broken:
        return []
    try:
        import pynvml

        pynvml.nvmlInit()
        out = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h)
            name = pynvml.nvmlDeviceGetName(h)
            util = pynvml.nvmlDeviceGetUtilizationRates(h).gpu
            out.append(GpuInfo(i, name.decode() if isinstance(name, bytes) else str(name), int(mem.used),
                               int(mem.total), float(util)))
        return out
    except Exception:  # no driver, no NVML: a CPU box
        _nvml_broken = True
        return []


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

    def __init__(self, probe: GpuProbe | None) -> None:
        self.probe = probe
        self._history: dict[int, list[tuple]] = {}  # attempt -> (t, rss, alloc, reserved, peak, util), newest last

    def read(self, reader: Reader, runs: list) -> list[DeviceState]:
        """One entry per GPU NVML sees and per device a run is running on (``runs``: running RunRows)."""
        states: dict[str, DeviceState] = {}
        for gpu in (self.probe() if self.probe else []):
            states[f"cuda:{gpu.index}"] = DeviceState(f"cuda:{gpu.index}", gpu.name, gpu.util, gpu.mem_used,
                                                      gpu.mem_total)
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
