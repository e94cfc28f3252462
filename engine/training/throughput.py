"""Tokens per second and model FLOPs utilisation (MFU) of a training run, and the run process's
own GPU memory as torch counts it (``cuda_memory``, for its system samples).

MFU = 6 × parameters × tokens/s ÷ the GPU's dense peak (PaLM's definition: forward and
backward of every parameter per token, attention FLOPs left out), so runs on different
GPUs and precisions compare on one scale. Tokens are real (non-padding) tokens: padding
the GPU multiplies is waste, not work. The peaks are NVIDIA's datasheet figures without
2:4 sparsity; fp32 means the CUDA cores, as torch keeps TF32 matmuls off by default.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.store.telemetry import CudaMemory

# (GPU name pattern, {precision: dense peak TFLOP/s}); the first match wins, so specific names come first
DENSE_PEAK_TFLOPS: tuple[tuple[str, dict[str, float]], ...] = (
    (r"H200", {"bf16": 989.4, "fp16": 989.4, "fp32": 66.9}),
    (r"H100.*PCIe", {"bf16": 756.0, "fp16": 756.0, "fp32": 51.2}),
    (r"H100.*NVL", {"bf16": 835.0, "fp16": 835.0, "fp32": 60.0}),
    (r"H100|GH200", {"bf16": 989.4, "fp16": 989.4, "fp32": 66.9}),  # SXM
    (r"A100", {"bf16": 312.0, "fp16": 312.0, "fp32": 19.5}),
    (r"L40S", {"bf16": 362.1, "fp16": 362.1, "fp32": 91.6}),
    (r"\bA10\b", {"bf16": 125.0, "fp16": 125.0, "fp32": 31.2}),
    (r"V100", {"fp16": 125.0, "fp32": 15.7}),
)


def peak_flops(gpu_name: str, precision: str) -> float | None:
    """The dense peak FLOP/s of ``gpu_name`` (as torch.cuda.get_device_name says it) in ``precision``;
    None for a GPU or precision not in the table (MFU is then not reported, never guessed)."""
    for pattern, peaks in DENSE_PEAK_TFLOPS:
        if re.search(pattern, gpu_name):
            tflops = peaks.get(precision)
            return None if tflops is None else tflops * 1e12
    return None


def model_flops_utilisation(n_params: int, tokens_per_s: float, peak: float | None) -> float | None:
    """6·N·tokens/s over the peak, a fraction in [0, 1] (None without a known peak)."""
    if peak is None or peak <= 0:
        return None
    return 6.0 * n_params * tokens_per_s / peak


def cuda_memory() -> CudaMemory | None:
    """torch.cuda's allocated, reserved and peak bytes of this process, for engine.store.telemetry's
    sampler; None until CUDA is initialised (the sampler's thread never creates a CUDA context)."""
    import torch  # the run process has imported it by the time its sampler runs

    from engine.store.telemetry import CudaMemory

    if not torch.cuda.is_initialized():
        return None
    return CudaMemory(int(torch.cuda.memory_allocated()), int(torch.cuda.memory_reserved()),
                      int(torch.cuda.max_memory_allocated()))
