"""Tokens/s and MFU per run: the GPU peaks by name and precision, the formula, and what a real
(tiny, CPU) run stores with its results."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.runfiles import RunFiles
from engine.training.throughput import model_flops_utilisation, peak_flops
from tests.support.tagging import spec


@pytest.mark.parametrize("name, precision, tflops", [
    ("NVIDIA H200", "bf16", 989.4),
    ("NVIDIA H100 80GB HBM3", "bf16", 989.4),  # SXM
    ("NVIDIA H100 PCIe", "fp16", 756.0),
    ("NVIDIA H100 NVL", "bf16", 835.0),
    ("NVIDIA A100-SXM4-80GB", "bf16", 312.0),
    ("NVIDIA A100 80GB PCIe", "fp32", 19.5),
    ("NVIDIA A10", "bf16", 125.0),
    ("NVIDIA A10G", "bf16", None),  # not the A10: not guessed
    ("Tesla V100-SXM2-32GB", "bf16", None),  # no bf16 on a V100
    ("NVIDIA GeForce RTX 3090", "fp16", None),
])
def test_dense_peaks_by_gpu_name_and_precision(name, precision, tflops):
    assert peak_flops(name, precision) == (None if tflops is None else tflops * 1e12)


def test_mfu_is_six_flops_per_parameter_and_token():
    # XLM-R base (278M parameters) at 100k tokens/s on an H100 in bf16
    assert model_flops_utilisation(278_000_000, 100_000.0, peak_flops("NVIDIA H100 80GB HBM3", "bf16")) == \
        pytest.approx(6 * 278e6 * 1e5 / 989.4e12)
    assert model_flops_utilisation(278_000_000, 100_000.0, None) is None


@pytest.mark.slow
def test_a_run_stores_its_tokens_per_second_and_parameters(tmp_path: Path):
    from engine.training.zeroshot import train_and_evaluate

    files = RunFiles(tmp_path / "run")
    out = train_and_evaluate(spec(), files, None, "cpu", log=lambda _: None)
    train = {m: v for lang, split, m, v in out.results if split == "train"}
    assert train["tokens_per_s"] > 0 and "mfu" not in train  # no peak on the CPU: not guessed
    import json

    info = json.loads(files.run_info.read_text())
    assert info["speed"]["n_params"] == train["n_params"] > 100_000
    assert info["speed"]["mfu"] is None and info["gpu"] is None
    # tokens/s counts real tokens of training steps only: at most examples/s × the longest sentence
    assert train["tokens_per_s"] < train["examples_per_s"] * 48 * 10
    # what the method costs: full fine-tuning trains every parameter; a step's time; the process's peak memory
    assert train["n_trainable"] == train["n_params"] and train["trainable_share"] == 1.0
    assert 0 < train["s_per_step"] * train["steps"] <= train["train_seconds"]
    assert train["peak_rss_bytes"] > 100 << 20  # torch and the model are in it
