"""Several runs on one GPU, admitted by memory: which GPU (if any) may take the next run now.

At the paper's shapes (XLM-R base, batch 32 × 128 tokens) one run leaves most of an
H100 idle, so a worker may start a second, third… run on a GPU whose free memory (NVML)
holds the run's expected peak plus a margin. The expected peak is the largest one
measured for the same shape (model, method, batch size, length, precision) in finished
runs, stored per run as ``peak_gpu_bytes``; for a shape never seen, a conservative
estimate from the parameter count (weights, gradients and AdamW moments in fp32, plus
activations per token). With ``--runs-per-gpu auto`` packing also stops where the measured
summed tokens/s of a GPU stops rising. Pure, apart from reading the history: the GPU probe
and the history are passed in, so the policy is tested without a GPU.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from engine.store.queries import train_scores

PEAK_METRIC = "peak_gpu_bytes"  # stored with a GPU run's train scores (engine.training.loop.speed_stats)
TOKENS_METRIC = "tokens_per_s"
PARAMS_METRIC = "n_params"
GPU_RUNS_METRIC = "gpu_runs"  # stored by the worker's slot after the run (engine.runner.admission)
MIN_PACKING_GAIN = 1.1  # one more run on a GPU must raise its summed tokens/s by 10 %: each run gets slower
# published parameter counts (with their 250k / 120k vocabularies): estimates before a first run counts them
KNOWN_PARAMS = {"xlm-roberta-base": 278_000_000, "xlm-roberta-large": 560_000_000,
                "bert-base-multilingual-cased": 178_000_000, "bert-base-multilingual-uncased": 167_000_000,
                "afro-xlmr-base": 278_000_000, "afro-xlmr-large": 560_000_000, "mdeberta-v3-base": 279_000_000}

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

    id: str  # as CUDA_VISIBLE_DEVICES names it (engine.gpus)
    total_bytes: int
    free_bytes: int  # what the probe reports, less what this worker's runs started on it will still take
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


@dataclass(frozen=True)
class Measured:
    """What one succeeded GPU run measured, as admission learns from it."""

    shape: Shape
    peak_bytes: int | None
    tokens_per_s: float | None
    gpu_runs: float | None  # this worker's runs on its GPU, averaged over the run (packing level)
    n_params: int | None


def measured_runs(engine: Engine) -> list[Measured]:
    """Every succeeded tagging run's stored speed and memory (engine.training.loop.speed_stats)."""
    out = []
    for spec_json, scores in train_scores(engine, (PEAK_METRIC, TOKENS_METRIC, GPU_RUNS_METRIC, PARAMS_METRIC)):
        if (shape := shape_of(spec_json)) is None:
            continue
        peak, params = scores.get(PEAK_METRIC), scores.get(PARAMS_METRIC)
        out.append(Measured(shape, None if peak is None else int(peak), scores.get(TOKENS_METRIC),
                            scores.get(GPU_RUNS_METRIC), None if params is None else int(params)))
    return out


def parameter_count(model: str, history: Iterable[Measured]) -> int | None:
    """The model's parameters: as a finished run of it counted them, else as published; None: unknown."""
    counted = [m.n_params for m in history if m.shape.model == model and m.n_params]
    return max(counted) if counted else KNOWN_PARAMS.get(model.rstrip("/").split("/")[-1])


def level_throughput(history: Iterable[Measured], shape: Shape) -> dict[int, float]:
    """Runs per GPU -> the GPU's summed tokens/s with that many runs of ``shape`` on it
    (the level times the median run's tokens/s; a run's level is its average, rounded)."""
    by_level: dict[int, list[float]] = {}
    for m in history:
        if m.shape == shape and m.tokens_per_s and m.gpu_runs:
            by_level.setdefault(max(1, int(m.gpu_runs + 0.5)), []).append(m.tokens_per_s)
    return {k: k * statistics.median(v) for k, v in sorted(by_level.items())}


def packing_helps(levels: dict[int, float], runs_now: int, min_gain: float = MIN_PACKING_GAIN) -> tuple[bool, str]:
    """Whether one more run on a GPU that has ``runs_now`` should raise its throughput, and why.

    Packing stops at the first level whose measured throughput is not ``min_gain`` times
    the level below's; a level not measured yet is tried (its runs measure it)."""
    if runs_now == 0:
        return True, "an idle GPU"
    for k in sorted(levels):
        if k - 1 in levels and levels[k] < min_gain * levels[k - 1]:
            if runs_now + 1 >= k:
                return False, (f"packing stops helping at {k} runs per GPU: measured {levels[k]:.0f} tokens/s "
                               f"vs {levels[k - 1]:.0f} with {k - 1}")
            break
    nxt = runs_now + 1
    if nxt in levels and 1 in levels:
        return True, f"{nxt} runs per GPU measured at {levels[nxt] / levels[1]:.2f}x one run's tokens/s"
    return True, f"{nxt} runs per GPU not measured yet for this shape: trying it"


def estimate_peak(n_params: int, shape: Shape, trainable: int | None = None) -> int:
    """A conservative peak for a shape never measured: optimizer state for the trainable parameters
    (all of them for full fine-tuning), the frozen weights, and activations for a full batch."""
    trainable = n_params if trainable is None else trainable
    weights = 4 * (n_params - trainable) + BYTES_PER_PARAM * trainable
    return weights + shape.batch_size * shape.max_length * ACTIVATION_BYTES_PER_TOKEN


def expected_peak(shape: Shape, history: Iterable[Measured], trainable: int | None = None
                  ) -> tuple[int | None, str]:
    """The largest peak measured for ``shape``, else the estimate from the model's parameter count;
    and which of the two it is. None where neither is known (a model never run, of no published size)."""
    history = list(history)
    seen = [m.peak_bytes for m in history if m.shape == shape and m.peak_bytes is not None]
    if seen:
        return max(seen), f"measured ({len(seen)} run{'s' if len(seen) > 1 else ''})"
    n_params = parameter_count(shape.model, history)
    if n_params is None:
        return None, f"{shape.model} never ran here and its size is unknown: only on an idle GPU"
    return estimate_peak(n_params, shape, trainable), "estimated from the parameter count"


def admit(gpus: Sequence[GpuState], need: int, *, runs_per_gpu: int | None, margin: int = DEFAULT_MARGIN_BYTES
          ) -> str | None:
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
    first = {g.id: -i for i, g in enumerate(gpus)}
    return max(fits, key=lambda g: (g.runs == 0, g.free_bytes, first[g.id])).id
