"""A stand-in for the NVIDIA library as nvidia-ml-py exposes it (``pynvml``), for machines without a GPU.

Only the library is replaced, never xltui's code: a test puts a ``StandInNvml`` into
``sys.modules["pynvml"]`` and engine.gpus imports and calls it as it would the real module. Its
errors are the real module's exception classes and codes (``pynvml.NVMLError(code)``), so the
messages are the ones a real driver gives ("GPU is lost", "Unknown Error"). A test describes the
GPUs, schedules failures (``init_errors``: what the next ``nvmlInit`` calls raise; a GPU's
``lost``: every call on it fails until cleared) and reads back how often NVML was initialised.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from types import SimpleNamespace

import pynvml

GIB = 1 << 30


@dataclass
class StandInGpu:
    name: str
    total_gib: float
    used_gib: float
    util: float | None = 50.0  # None: NVML says Not Supported (as under MIG)
    processes: dict[int, int] | None = field(default_factory=dict)  # None: Not Supported (some containers)
    uuid: str = ""
    lost: bool = False  # fallen off the bus: every call on it fails with "GPU is lost"


@dataclass(frozen=True)
class _Handle:
    index: int


class StandInNvml(types.ModuleType):
    NVMLError = pynvml.NVMLError
    NVML_ERROR_LIBRARY_NOT_FOUND = pynvml.NVML_ERROR_LIBRARY_NOT_FOUND
    NVML_ERROR_DRIVER_NOT_LOADED = pynvml.NVML_ERROR_DRIVER_NOT_LOADED
    NVML_ERROR_UNKNOWN = pynvml.NVML_ERROR_UNKNOWN
    NVML_ERROR_GPU_IS_LOST = pynvml.NVML_ERROR_GPU_IS_LOST

    def __init__(self, gpus: list[StandInGpu], *, init_errors: list[int] | None = None) -> None:
        super().__init__("pynvml")
        self.gpus, self.init_errors = gpus, list(init_errors or [])
        self.inits = 0  # nvmlInit calls, failed ones included

    # -- the calls engine.gpus makes, with the real module's names and shapes ----------------------
    def nvmlInit(self) -> None:
        self.inits += 1
        if self.init_errors:
            raise pynvml.NVMLError(self.init_errors.pop(0))

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _Handle:
        if not 0 <= index < len(self.gpus):
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return _Handle(index)

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> _Handle:
        for i, gpu in enumerate(self.gpus):
            if gpu.uuid and gpu.uuid == uuid:
                return _Handle(i)
        raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_FOUND)

    def _gpu(self, handle: _Handle) -> StandInGpu:
        gpu = self.gpus[handle.index]
        if gpu.lost:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
        return gpu

    def nvmlDeviceGetMemoryInfo(self, handle: _Handle) -> SimpleNamespace:
        gpu = self._gpu(handle)
        total, used = int(gpu.total_gib * GIB), int(gpu.used_gib * GIB)
        return SimpleNamespace(total=total, used=used, free=total - used)

    def nvmlDeviceGetName(self, handle: _Handle) -> str:
        return self._gpu(handle).name

    def nvmlDeviceGetUtilizationRates(self, handle: _Handle) -> SimpleNamespace:
        gpu = self._gpu(handle)
        if gpu.util is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return SimpleNamespace(gpu=gpu.util, memory=0)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: _Handle) -> list[SimpleNamespace]:
        gpu = self._gpu(handle)
        if gpu.processes is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in gpu.processes.items()]


def h100(**kw) -> StandInGpu:
    return StandInGpu(**{"name": "NVIDIA H100 80GB HBM3", "total_gib": 80.0, "used_gib": 0.5, **kw})
