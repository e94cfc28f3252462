"""What a worker's slots are and the environment each gives its run's process.

``slot_options`` lays a worker's devices out as slots (several per GPU with
``--runs-per-gpu``, several on the CPU sharing its cores); ``run_env`` is the environment
a run (or a slot's warm launcher) starts with: the database URL (never on a command line),
the GPU it may see, the CPU threads it starts with and the cores it shares
(engine.runner.cpu_share), the cadence of its periodic state saves (``--checkpoint-every``,
checked by ``checkpoint_cadence`` before the worker starts), and the gradient
accumulation after an out-of-memory retry.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.runner.admission import AUTO_SLOTS_PER_GPU
from engine.runner.cpu_share import share_env, start_threads
from engine.runner.devices import default_cpu_slots
from engine.runner.exits import visible_device
from engine.settings import (
    CHECKPOINT_EVERY_ENV,
    DB_ENV,
    DEFAULT_LEASE_S,
    GRAD_ACCUMULATION_ENV,
    parse_cadence,
    warm_runs,
)

CHECKPOINT_EVERY_FLAG = "--checkpoint-every"


@dataclass
class SlotOptions:
    db_url: str
    device: str  # "cpu" or "cuda:N"
    lease_s: float = DEFAULT_LEASE_S
    poll_s: float = 1.0
    exit_when_idle: bool = False
    study_ids: tuple[int, ...] | None = None
    label: str | None = None  # tells slots sharing a device apart ("cpu#2")
    threads: int | None = None  # CPU threads per run (OMP_NUM_THREADS) when slots share the cores
    job_id: str | None = None  # the cluster job this worker runs in (Slurm "1234_0"), shown beside it
    job_index: int | None = None  # its index among the workers submitted together
    warm: bool = field(default_factory=warm_runs)  # fork runs from a launcher that imported torch once
    warm_at_start: bool = True  # start the launcher with the slot; a GPU's extra slots start theirs when first used
    # $XLTUI_CHECKPOINT_EVERY of its runs (how often they save their state; not part of their identity);
    # None: they inherit the worker's own environment
    checkpoint_every: str | None = None


def checkpoint_cadence(flag: str | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """The ``$XLTUI_CHECKPOINT_EVERY`` a worker gives its runs: ``--checkpoint-every``, else the worker's own
    variable, else None (the runs' default). Checked here, so a typo fails the command at once rather than
    every run once its model is loaded; the ValueError names the flag or the variable it came from."""
    if flag is not None:
        parse_cadence(flag, CHECKPOINT_EVERY_FLAG)
        return flag.strip()
    inherited = (environ.get(CHECKPOINT_EVERY_ENV) or "").strip()
    if not inherited:
        return None
    parse_cadence(inherited, CHECKPOINT_EVERY_ENV)
    return inherited


def run_env(opts: SlotOptions, grad_accumulation: int = 1) -> dict[str, str]:
    """The environment of a run (or of the slot's warm launcher) on ``opts.device``."""
    # the database URL in the environment, not on the command line where `ps` shows its password
    env = dict(os.environ, CUDA_DEVICE_ORDER="PCI_BUS_ID", PYTHONUNBUFFERED="1", **{DB_ENV: opts.db_url})
    env["CUDA_VISIBLE_DEVICES"] = visible_device(opts.device, os.environ.get("CUDA_VISIBLE_DEVICES"))
    # libgomp's default spin-wait (300k) makes CPU training several times slower as soon
    # as anything else uses a core; too short a spin costs every op a wake-up on a quiet
    # machine. MiniLM, 2 threads on 2 cores, s/step quiet / beside one busy core:
    # 300k 0.59 / ~2.5, 100k 0.58 / 1.86, 30k 0.61 / 1.40, 10k 0.66 / 1.16
    # (OMP_WAIT_POLICY=PASSIVE was 40 % slower quiet). One thread per run: no effect. CPU runs
    # re-split the cores as runs start and end (engine.runner.cpu_share): until each has
    # read its new share, their threads outnumber the cores for a few seconds.
    env.setdefault("GOMP_SPINCOUNT", "30000")
    share_env(env, opts.device, opts.threads)
    if opts.checkpoint_every is not None:
        env[CHECKPOINT_EVERY_ENV] = opts.checkpoint_every
    env.pop(GRAD_ACCUMULATION_ENV, None)
    if grad_accumulation > 1:  # after a CUDA out-of-memory: smaller micro-batches
        env[GRAD_ACCUMULATION_ENV] = str(grad_accumulation)
    return env


def slot_options(db_url: str, devices: list[str], cpu_slots: int | None = None, runs_per_gpu: int | None = 1,
                 **options) -> list[SlotOptions]:
    """``runs_per_gpu`` slots per GPU (None, ``auto``: up to AUTO_SLOTS_PER_GPU, admitted by
    engine.runner.admission); on the CPU, ``cpu_slots`` runs side by side sharing the cores
    (None: ``default_cpu_slots()``, two on two cores or more): a run alone uses them all, two
    runs half each (engine.runner.cpu_share). Extra slots start their launcher when first used,
    so a lone run never shares its cores with a launcher's imports.

    Small CPU runs scale poorly across threads and spend seconds starting up, so two
    one-thread runs on two cores finish a study sooner than one two-thread run at a time.
    """
    if cpu_slots is None:
        cpu_slots = default_cpu_slots()
    if devices != ["cpu"] or cpu_slots <= 1:
        per_gpu = AUTO_SLOTS_PER_GPU if runs_per_gpu is None else runs_per_gpu
        return [SlotOptions(db_url, d, label=f"{d}#{i}" if per_gpu > 1 and d != "cpu" else None,
                            warm_at_start=i == 1, **options)
                for d in devices for i in range(1, (per_gpu if d != "cpu" else 1) + 1)]
    threads = start_threads(cpu_slots)
    return [SlotOptions(db_url, "cpu", label=f"cpu#{i}", threads=threads, warm_at_start=i == 1, **options)
            for i in range(1, cpu_slots + 1)]
