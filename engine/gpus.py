"""This machine's GPUs as NVML (nvidia-ml-py) reports them: the one place NVML is read.

No torch and no CUDA context, so a probe costs milliseconds and never a GPU's memory. The
worker counts its GPUs and looks at their free memory before it packs another run on one
(``engine.runner.devices``, ``engine.runner.admission``), a run's system samples take its
GPU's utilisation (``engine.store.telemetry``), and the app's workers screen shows every GPU
(``xltui.tui.devices``). torch's own counters (allocated, reserved, peak) are the run
process's: ``engine.training`` reads them and hands the telemetry writer plain numbers.

Three outcomes, kept apart so a caller can say which: the GPUs; none because this machine
has no NVML (no library or no driver: a CPU box), an empty list and never an error; and NVML
present but failing (a driver/library mismatch, a GPU fallen off the bus), ``GpuError``
naming the call that failed and carrying the GPUs that could still be read. NVML is
initialised once per process and again after a failure.

``$XLTUI_TEST_GPUS`` replaces NVML with fake GPUs ("80,80": two of 80 GiB, free; "80:30":
80 GiB of which 30 free), so packing is tested and shown on a CPU box; runs given a fake GPU
train on the CPU (engine.training.run picks CUDA only where torch sees it).

Imports ``engine.settings`` (the variable's name) and nothing else of the engine.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.settings import TEST_GPUS_ENV

GIB = 1 << 30


@dataclass(frozen=True)
class Gpu:
    """One GPU now. ``id``: as CUDA_VISIBLE_DEVICES names it (an index, or a UUID under some schedulers)."""

    id: str
    name: str
    total_bytes: int
    free_bytes: int
    used_by_pid: Mapping[int, int] = field(default_factory=dict)  # read on request; empty where NVML cannot tell
    util_percent: float | None = None  # None where NVML does not say (MIG, fake GPUs)

    @property
    def used_bytes(self) -> int:
        return self.total_bytes - self.free_bytes


class GpuError(RuntimeError):
    """NVML is there but failed; the message says which call on which GPU, ``gpus`` holds those still read."""

    def __init__(self, message: str, gpus: Sequence[Gpu] = ()) -> None:
        super().__init__(message)
        self.gpus = list(gpus)


def fake_gpus(text: str) -> list[Gpu]:
    """The GPUs ``$XLTUI_TEST_GPUS`` describes; ValueError naming the variable for a malformed one."""
    out = []
    for i, item in enumerate(part.strip() for part in text.split(",")):
        total, _, free = item.partition(":")
        try:
            total_gib, free_gib = float(total), float(free or total)
        except ValueError:
            raise ValueError(f"{TEST_GPUS_ENV}={text!r}: expected GiB per GPU like 80,80 or 80:30 (total:free)") from None
        if not 0 <= free_gib <= total_gib or total_gib <= 0:
            raise ValueError(f"{TEST_GPUS_ENV}={text!r}: GPU {i} has free memory outside 0..total")
        out.append(Gpu(str(i), "fake GPU", int(total_gib * GIB), int(free_gib * GIB)))
    return out


def _fake() -> list[Gpu] | None:
    text = os.environ.get(TEST_GPUS_ENV, "").strip()
    return fake_gpus(text) if text else None


_lock = threading.Lock()
_initialised: Any = None  # the pynvml module once nvmlInit succeeded in this process (None: not yet, or failed since)


def _nvml() -> Any:
    """pynvml, initialised; None where this machine has no NVML; GpuError where NVML is there but will not start."""
    global _initialised
    try:
        import pynvml
    except ImportError:  # nvidia-ml-py is a dependency; without it there is simply no NVML
        return None
    with _lock:
        if _initialised is not pynvml:
            try:
                pynvml.nvmlInit()
            except pynvml.NVMLError as exc:
                if exc.value in (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, pynvml.NVML_ERROR_DRIVER_NOT_LOADED):
                    return None  # a CPU box
                raise GpuError(f"NVML nvmlInit failed: {exc}") from exc
            except Exception as exc:  # the library loaded but misbehaves: still a failure to say
                raise GpuError(f"NVML nvmlInit failed: {exc.__class__.__name__}: {exc}") from exc
            _initialised = pynvml
    return pynvml


def _forget() -> None:
    """After a failure NVML is initialised again on the next probe (a driver reloaded, a GPU reset)."""
    global _initialised
    with _lock:
        _initialised = None


class _Failed(Exception):
    """One NVML call on one GPU failed; the message names the call."""


def _call(nvml: Any, what: str, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except nvml.NVMLError as exc:
        raise _Failed(f"{what} failed: {exc}") from exc


def _optional(nvml: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """A reading some GPUs do not offer (utilisation under MIG, processes in some containers): None then."""
    try:
        return fn(*args)
    except nvml.NVMLError:
        return None


def _read_one(nvml: Any, gpu_id: str, processes: bool) -> Gpu:
    if gpu_id.isdigit():
        handle = _call(nvml, "nvmlDeviceGetHandleByIndex", nvml.nvmlDeviceGetHandleByIndex, int(gpu_id))
    else:
        handle = _call(nvml, "nvmlDeviceGetHandleByUUID", nvml.nvmlDeviceGetHandleByUUID, gpu_id)
    memory = _call(nvml, "nvmlDeviceGetMemoryInfo", nvml.nvmlDeviceGetMemoryInfo, handle)
    name = _call(nvml, "nvmlDeviceGetName", nvml.nvmlDeviceGetName, handle)
    util = _optional(nvml, nvml.nvmlDeviceGetUtilizationRates, handle)
    procs = (_optional(nvml, nvml.nvmlDeviceGetComputeRunningProcesses, handle) or []) if processes else []
    return Gpu(gpu_id, name.decode() if isinstance(name, bytes) else str(name), int(memory.total), int(memory.free),
               {int(p.pid): int(p.usedGpuMemory) for p in procs if p.usedGpuMemory is not None},
               None if util is None else float(util.gpu))


def read_gpus(ids: Sequence[str] | None = None, *, processes: bool = False) -> list[Gpu]:
    """The GPUs ``ids`` (every GPU of the machine when None) now, in that order; with ``processes``
    also each compute process's memory. [] without NVML. GpuError where NVML fails, as a whole or
    on some of the GPUs (its ``gpus``: the others)."""
    fake = _fake()
    if fake is not None:
        return fake if ids is None else [g for g in fake if g.id in ids]
    nvml = _nvml()
    if nvml is None:
        return []
    if ids is None:
        try:
            ids = [str(i) for i in range(nvml.nvmlDeviceGetCount())]
        except nvml.NVMLError as exc:
            _forget()
            raise GpuError(f"NVML nvmlDeviceGetCount failed: {exc}") from exc
    out, failed = [], []
    for gpu_id in ids:
        try:
            out.append(_read_one(nvml, gpu_id, processes))
        except _Failed as exc:
            failed.append(f"GPU {gpu_id}: {exc}")
    if failed:
        _forget()
        raise GpuError("NVML " + "; ".join(failed), out)
    return out


def gpu_count() -> int:
    """GPUs on this machine (the fake ones under ``$XLTUI_TEST_GPUS``); 0 without NVML; GpuError where it fails."""
    fake = _fake()
    if fake is not None:
        return len(fake)
    nvml = _nvml()
    if nvml is None:
        return 0
    try:
        return int(nvml.nvmlDeviceGetCount())
    except nvml.NVMLError as exc:
        _forget()
        raise GpuError(f"NVML nvmlDeviceGetCount failed: {exc}") from exc
