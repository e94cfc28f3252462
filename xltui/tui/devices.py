"""Per-device state for the workers screen: NVML on this host plus the runs' own samples.

NVML (nvidia-ml-py) says what every GPU is doing, busy with our runs or not;
the run processes' samples in the database add torch's allocated / reserved /
peak memory (and RSS for CPU runs). No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

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
class DeviceState:
    device: str  # cuda:N | cpu
    name: str = ""
    util: float | None = None
    mem_used: int | None = None  # NVML, whole device
    mem_total: int | None = None
    run_id: int | None = None
    allocated: int | None = None  # torch, the run's process
    reserved: int | None = None
    peak: int | None = None
    rss: int | None = None
    history: list[tuple[float, int | None, int | None, float | None, int | None]] = field(default_factory=list)
    # t, allocated, reserved, util, rss


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
        for run in runs:
            if run.status != RunStatus.RUNNING or not run.device or run.attempt_id is None:
                continue
            live.add(run.attempt_id)
            state = states.setdefault(run.device, DeviceState(run.device, "CPU" if run.device == "cpu" else ""))
            cache = self._history.setdefault(run.attempt_id, [])
            cache.extend(system_samples(reader, run.attempt_id, cache[-1][0] if cache else float("-inf"),
                                        limit=HISTORY))
            del cache[:-HISTORY]
            if state.run_id is not None and not cache:
                continue  # a second run on the CPU: keep the first one's figures
            state.run_id = run.id
            state.history = [(t, alloc, reserved, util, rss) for t, rss, alloc, reserved, _peak, util in cache]
            if cache:
                _t, state.rss, state.allocated, state.reserved, state.peak, util = cache[-1]
                if state.util is None:
                    state.util = util
        for gone in set(self._history) - live:
            del self._history[gone]
        return sorted(states.values(), key=lambda s: (s.device == "cpu", s.device))
