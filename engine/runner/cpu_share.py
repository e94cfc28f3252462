"""How a worker's CPU runs share its cores: the cores it gives them and the count each starts with.

A worker's cores are those it may run on (``devices.usable_cores``: a Slurm job's allocation,
taskset), or fewer where the worker's own ``OMP_NUM_THREADS`` says so (several workers on one
box, a lab's login profile). Where several CPU slots share them, every run is told them
(``$XLTUI_CPU_CORES``) and keeps its torch threads at its share itself: all of them while it
runs alone, half each beside another run, all again when that one ends, and never a core
another process keeps busy (engine.training.cpu_threads looks every second, in a thread of
its own, and sets the count between steps; no step waits on the database).
``OMP_NUM_THREADS`` is only what a run starts with, the cores over the worker's CPU slots,
until it has looked; its warm launcher imports torch with it too. One CPU slot: no sharing,
its runs keep every core (or the worker's ``OMP_NUM_THREADS``), run after run the same.
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
    """Tell a run (or a warm launcher) how to share the cores where CPU slots share them (``threads``:
    what a run starts with): the cores its worker's runs share and that start. Elsewhere nothing:
    a GPU run, or one CPU slot's run, keeps the count it starts with (torch's default: every core,
    or the worker's ``OMP_NUM_THREADS``), the same from run to run."""
    if device != "cpu" or not threads:
        env.pop(CPU_CORES_ENV, None)
        return
    env[CPU_CORES_ENV] = str(worker_cores())
    for name in THREAD_ENVS:
        env[name] = str(threads)
