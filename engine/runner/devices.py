"""Which devices a worker works on: ``--cpu`` / ``--gpus 0,1`` / ``--cpu-slots N`` as device names.

GPUs are counted through NVML, never torch, so a worker (and ``xltui --help``) starts
in well under a second on a box whose GPUs are busy.
"""

from __future__ import annotations

import os


class DeviceError(ValueError):
    """A device flag that names no usable device."""


def parse_devices(cpu: bool, gpus: str | None, cpu_slots: int = 1) -> list[str]:
    """``--cpu`` / ``--gpus 0,1`` as device names; neither means every visible GPU, else the CPU.
    ``--cpu-slots N`` (N > 1) means the CPU."""
    if cpu_slots > 1 and gpus:
        raise DeviceError("--cpu-slots runs several runs on the CPU; it does not combine with --gpus")
    cpu = cpu or cpu_slots > 1
    if cpu and gpus:
        raise DeviceError("--cpu and --gpus exclude each other")
    if gpus:
        try:
            indices = [int(g) for g in gpus.split(",") if g.strip() != ""]
        except ValueError:
            raise DeviceError(f"--gpus: expected comma-separated GPU indices like 0,1, got {gpus!r}") from None
        available = count_gpus()
        missing = [i for i in indices if i < 0 or i >= available]
        if missing or not indices:
            raise DeviceError(f"--gpus {gpus}: this machine has {available} GPU(s) visible to NVML"
                              + ("; use --cpu" if not available else f" (indices 0..{available - 1})"))
        return [f"cuda:{i}" for i in indices]
    if cpu:
        return ["cpu"]
    return [f"cuda:{i}" for i in range(count_gpus())] or ["cpu"]


def count_gpus() -> int:
    """GPUs this process may use, without importing torch: NVML's count, or fewer where
    CUDA_VISIBLE_DEVICES gives it a subset (a Slurm job's GPUs; cuda:N then counts within it)."""
    try:
        import pynvml

        pynvml.nvmlInit()
        count = int(pynvml.nvmlDeviceGetCount())
    except Exception:  # no driver / no NVML: a CPU-only machine
        return 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return count
    ids = [v for v in visible.split(",") if v.strip()]
    return 0 if ids[:1] == ["-1"] else min(count, len(ids))
