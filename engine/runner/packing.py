"""Several runs on one GPU, admitted by memory: which GPU (if any) may take the next run now.

At the paper's shapes (XLM-R base, batch 32 × 128 tokens) one run leaves most of an
H100 idle, so a worker may start a second, third… run on a GPU whose free memory (NVML)
holds the run's expected peak plus a margin. The expected peak is the largest one
measured for the same shape (model, method, batch size, length, precision) in finished
runs, stored per run as ``peak_gpu_bytes``; for a shape never seen, a conservative
estimate from the parameter count (weights, gradients and AdamW moments in fp32, plus
activations per token). Pure: the GPU probe and the history are passed in, so the policy
is tested without a GPU.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from engine.store.queries import gpu_peaks

PEAK_METRIC = "peak_gpu_bytes"  # stored with a GPU run's train scores (engine.training.loop.speed_stats)

BYTES_PER_PARAM = 16  # fp32 weights + gradients + AdamW's two moments (mixed precision keeps them in fp32)
ACTIVATION_BYTES_PER_TOKEN = 512 << 10  # above a base encoder's ~400 KiB per token (Korthikanti et al. 2022)
DEFAULT_MARGIN_BYTES = 2 << 30  # CUDA context, allocator fragmentation, evaluation batches


@dataclass(frozen=True)
class Shape:
    """What a run's GPU memory depends on."""

    model: str
    method: str
    batch_size: int
    max_length: int
    precision: str


@dataclass(frozen=True)
class GpuState:
    """One GPU as the probe sees it now."""

    index: int
    total_bytes: int
    free_bytes: int
    runs: int  # runs this worker has on it


def shape_of(spec_json: str) -> Shape | None:
    """The memory shape of a stored spec; None for runs that are not tagging runs (language adapters
    train with their own batch and are measured on their own)."""
    spec = json.loads(spec_json)
    train = spec.get("train")
    if spec.get("kind") == "lang-adapter" or not isinstance(train, dict):
        return None
    return Shape(spec["model"], spec["method"], int(train["batch_size"]), int(train["max_length"]),
                 str(train.get("precision", "auto")))


def measured_peaks(engine: Engine) -> list[tuple[Shape, int]]:
    """(shape, peak GPU bytes) of every succeeded run that measured one: what admission learns from."""
    return [(shape, peak) for spec_json, peak in gpu_peaks(engine, PEAK_METRIC)
            if (shape := shape_of(spec_json)) is not None]


def estimate_peak(n_params: int, shape: Shape, trainable: int | None = None) -> int:
    """A conservative peak for a shape never measured: optimizer state for the trainable parameters
    (all of them for full fine-tuning), the frozen weights, and activations for a full batch."""
    trainable = n_params if trainable is None else trainable
    weights = 4 * (n_params - trainable) + BYTES_PER_PARAM * trainable
    return weights + shape.batch_size * shape.max_length * ACTIVATION_BYTES_PER_TOKEN


def expected_peak(shape: Shape, history: Iterable[tuple[Shape, int]], n_params: int,
                  trainable: int | None = None) -> tuple[int, str]:
    """The largest peak measured for ``shape``, else the estimate; and which of the two it is."""
    seen = [peak for s, peak in history if s == shape]
    if seen:
        return max(seen), f"measured ({len(seen)} run{'s' if len(seen) > 1 else ''})"
    return estimate_peak(n_params, shape, trainable), "estimated from the parameter count"


def admit(gpus: Sequence[GpuState], need: int, *, runs_per_gpu: int | None, margin: int = DEFAULT_MARGIN_BYTES
          ) -> int | None:
    """The GPU to start a run needing ``need`` bytes on, or None: wait.

    ``runs_per_gpu`` a number: at most that many runs per GPU, memory permitting; None (``auto``):
    as many as memory holds. An idle GPU always takes a run (its peak may be over-estimated;
    an OOM there is retried with a smaller micro-batch). Among those that fit, the GPU with
    the most free memory, so runs spread before they pack.
    """
    fits = [g for g in gpus
            if (runs_per_gpu is None or g.runs < runs_per_gpu)
            and (g.runs == 0 or g.free_bytes >= need + margin)]
    if not fits:
        return None
    return max(fits, key=lambda g: (g.runs == 0, g.free_bytes, -g.index)).index


def nvml_probe(indices: Sequence[int], runs: dict[int, int]) -> list[GpuState]:
    """The worker's GPUs as NVML sees them now (no torch, no CUDA context); [] without NVML.

    ``indices`` are NVML indices (engine.runner.slot.visible_device maps a worker's cuda:N to
    them); ``runs``: how many runs this worker has on each."""
    try:
        import pynvml

        pynvml.nvmlInit()
        out = []
        for i in indices:
            info = pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(i))
            out.append(GpuState(i, int(info.total), int(info.free), runs.get(i, 0)))
        return out
    except Exception:  # no driver or no NVML on this machine: no GPU to admit a run to
        return []
