"""How a worker's CPU runs share its cores: the cores it gives them and the count each starts with.

A worker's cores are those it may run on (``devices.usable_cores``: a Slurm job's allocation,
taskset), or fewer where the worker's own ``OMP_NUM_THREADS`` says so (several workers on one
box, a lab's login profile). Every CPU run is told them (``$XLTUI_CPU_CORES``) and keeps its
torch threads at its share itself: all of them while it runs alone, half each beside another
run, all again when that one ends (engine.training.cpu_threads counts its worker's running
runs in the database every few seconds and sets its count between steps; no step waits on
the database). ``OMP_NUM_THREADS`` is only what a run starts with, the cores over the worker's
CPU slots, until it has read its share; its warm launcher imports torch with it too.
"""

from __future__ import annotations

import os

from engine.runner.devices import usable_cores
from engine.settings import CPU_CORES_ENV

THREAD_ENVS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def worker_cores() -> int:
    """The cores this worker's CPU runs share: the usable ones, at most ``$OMP_NUM_THREADS`` where set."""
    cores = usable_cores()
    text = os.environ.get("OMP_NUM_THREADS", "").strip()
    return min(cores, int(text)) if text.isdigit() and int(text) > 0 else cores


def start_threads(cpu_slots: int) -> int:
    """A run's threads until it has read its share: the worker's cores over its CPU slots."""
    return max(1, worker_cores() // cpu_slots)


def share_env(env: dict[str, str], device: str, threads: int | None) -> None:
    """Tell a run (or a warm launcher) on ``device`` how to share the cores: on the CPU, the cores
    its worker's runs share and, where slots share them, the threads it starts with."""
    if device != "cpu":
        env.pop(CPU_CORES_ENV, None)
        return
    env[CPU_CORES_ENV] = str(worker_cores())
    if threads:
        for name in THREAD_ENVS:
            env[name] = str(threads)
