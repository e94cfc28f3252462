"""What the worker's GPUs hold now, as NVML reports it: total and free memory, and each
compute process's share where NVML can tell. No torch and no CUDA context, so probing costs
a worker milliseconds and never a GPU's memory.

``$XLTUI_TEST_GPUS`` replaces NVML with fake GPUs ("80,80": two of 80 GiB, free; "80:30":
80 GiB of which 30 free), so packing is tested and shown on a CPU box; runs given a fake GPU
train on the CPU (engine.training.run picks CUDA only where torch sees it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from engine.settings import TEST_GPUS_ENV

GIB = 1 << 30


@dataclass(frozen=True)
class GpuMemory:
    """One GPU now. ``id``: as CUDA_VISIBLE_DEVICES names it (an index, or a UUID under some schedulers)."""

    id: str
    name: str
    total_bytes: int
    free_bytes: int
    used_by_pid: Mapping[int, int] = field(default_factory=dict)  # empty where NVML cannot see the processes


def fake_gpus(text: str) -> list[GpuMemory]:
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
        out.append(GpuMemory(str(i), "fake GPU", int(total_gib * GIB), int(free_gib * GIB)))
    return out


def _fake() -> list[GpuMemory] | None:
    text = os.environ.get(TEST_GPUS_ENV, "").strip()
    return fake_gpus(text) if text else None


def _nvml_handle(pynvml, gpu_id: str):
    return (pynvml.nvmlDeviceGetHandleByIndex(int(gpu_id)) if gpu_id.isdigit()
            else pynvml.nvmlDeviceGetHandleByUUID(gpu_id))


def _processes(pynvml, handle) -> dict[int, int]:
    """Compute processes' memory on a GPU; {} where NVML cannot tell (some containers, MIG)."""
    try:
        procs = pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
    except pynvml.NVMLError:
        return {}
    return {int(p.pid): int(p.usedGpuMemory) for p in procs if p.usedGpuMemory is not None}


def probe_gpus(ids: Sequence[str]) -> list[GpuMemory]:
    """The GPUs ``ids`` now; [] without NVML (a CPU box, no driver): nothing to pack onto."""
    fake = _fake()
    if fake is not None:
        return [g for g in fake if g.id in ids]
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # no driver or no NVML library on this machine
        return []
    out = []
    for gpu_id in ids:
        try:
            handle = _nvml_handle(pynvml, gpu_id)
            info = pynvml.nvmlDeviceGetMemoryInfo(handle)
            name = pynvml.nvmlDeviceGetName(handle)
        except pynvml.NVMLError:  # a GPU that fell off the bus or an id NVML does not know: not offered
            continue
        out.append(GpuMemory(gpu_id, name.decode() if isinstance(name, bytes) else str(name), int(info.total),
                             int(info.free), _processes(pynvml, handle)))
    return out


def nvml_count() -> int:
    """GPUs on this machine (fake ones under ``$XLTUI_TEST_GPUS``); 0 without NVML."""
    fake = _fake()
    if fake is not None:
        return len(fake)
    try:
        import pynvml

        pynvml.nvmlInit()
        return int(pynvml.nvmlDeviceGetCount())
    except Exception:  # no driver / no NVML: a CPU-only machine
        return 0
