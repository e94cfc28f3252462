"""Which devices a worker works on: ``--cpu`` / ``--gpus 0,1`` / ``--cpu-slots N`` as device names.

GPUs are counted through NVML (``engine.gpus``), never torch, so a worker (and ``xltui --help``) starts
in well under a second on a box whose GPUs are busy.
"""

from __future__ import annotations

import os

from engine.gpus import GpuError, gpu_count

CPU_SLOTS_ENV = "XLTUI_CPU_SLOTS"  # a lab's default for --cpu-slots (a login profile, a Slurm job's env)


class DeviceError(ValueError):
    """A device flag that names no usable device."""


def usable_cores() -> int:
    """The cores this process may run on (a Slurm job's allocation, taskset), not the machine's."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity call on this platform
        return max(1, os.cpu_count() or 1)


def default_cpu_slots() -> int:
    """Runs side by side on the CPU when ``--cpu-slots`` is not given: ``$XLTUI_CPU_SLOTS``,
    else two where there are two cores or more. The paper-offline study on 2 cores: one run
    at a time (2 threads) vs two (1 thread each) — small runs scale poorly across threads
    and wait on their start-up, so two side by side finish it sooner."""
    text = os.environ.get(CPU_SLOTS_ENV, "").strip()
    if not text:
        return 2 if usable_cores() >= 2 else 1
    if not text.isdigit() or int(text) < 1:
        raise DeviceError(f"{CPU_SLOTS_ENV}: expected a whole number of runs side by side (1 or more), got {text!r}")
    return int(text)


def parse_devices(cpu: bool, gpus: str | None, cpu_slots: int | None = None) -> list[str]:
    """``--cpu`` / ``--gpus 0,1`` as device names; neither means every visible GPU, else the CPU.
    ``--cpu-slots N`` (N > 1) means the CPU. A bad ``$XLTUI_CPU_SLOTS`` fails here too, before
    anything is written."""
    if cpu_slots is None:
        default_cpu_slots()
    if cpu_slots is not None and cpu_slots > 1 and gpus:
        raise DeviceError("--cpu-slots runs several runs on the CPU; it does not combine with --gpus")
    cpu = cpu or (cpu_slots or 1) > 1
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
        count = gpu_count()
    except GpuError:  # NVML there but failing: no GPU this worker could be sure of
        return 0
    if not count:
        return 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return count
    ids = [v for v in visible.split(",") if v.strip()]
    return 0 if ids[:1] == ["-1"] else min(count, len(ids))
