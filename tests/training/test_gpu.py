"""CUDA paths, on a real GPU through real workers: memory samples and peak_gpu_bytes stored, bf16
autocast and fp16 with loss scaling finishing with finite scores, tokens/s and MFU stored, and two
runs packed on one GPU by --runs-per-gpu 2. Skipped (and says so) on machines without a GPU."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlmodel import Session, select

from engine.runner.devices import count_gpus
from engine.store.db import open_db
from engine.store.schema import Artifact, Attempt, Result, SystemSample
from tests.support.attempts import overlap
from tests.support.env import xltui
from tests.support.workers import enqueue_grid, runs

pytestmark = pytest.mark.skipif(count_gpus() == 0, reason="no NVIDIA GPU visible (NVML): CUDA paths need one")


def with_precision(grid: Path, precision: str) -> Path:
    grid.write_text(re.sub(r"max_eval_sentences: (\d+)\}", rf"max_eval_sentences: \1, precision: {precision}}}",
                           grid.read_text()))
    return grid


def train_scores(db: str, run_id: int) -> dict[str, float]:
    with Session(open_db(db)) as s:
        return {r.metric: r.value for r in s.exec(select(Result).where(Result.run_id == run_id,
                                                                      Result.split == "train"))}


def test_a_run_on_gpu_records_gpu_memory(db, tiny_grid):
    (run_id,) = enqueue_grid(db, tiny_grid(epochs=2, train=64, eval=32))
    xltui("worker", "--db", db, "--gpus", "0", "--exit-when-idle", check=True)
    (run,) = runs(db)
    assert run.status == "succeeded" and run.device == "cuda:0", run.error
    with Session(open_db(db)) as s:
        samples = s.exec(select(SystemSample).where(SystemSample.run_id == run_id)).all()
        assert any((x.gpu_peak_bytes or 0) > 0 for x in samples)
    assert train_scores(db, run_id)["peak_gpu_bytes"] > 0


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_runs_finish_and_store_their_speed(db, tiny_grid, precision):
    import torch

    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16 (before Ampere)")
    (run_id,) = enqueue_grid(db, with_precision(tiny_grid(epochs=2, train=64, eval=32), precision))
    xltui("worker", "--db", db, "--gpus", "0", "--exit-when-idle", check=True)
    (run,) = runs(db)
    assert run.status == "succeeded", run.error
    with Session(open_db(db)) as s:
        info = s.exec(select(Artifact).where(Artifact.run_id == run_id, Artifact.kind == "run_info")).one()
        test_f1 = [r.value for r in s.exec(select(Result).where(Result.run_id == run_id, Result.metric == "f1"))]
    info = json.loads(Path(info.path).read_text())
    assert info["precision"] == precision and info["gpu"] == torch.cuda.get_device_name(0)
    assert test_f1 and all(0.0 <= v <= 1.0 for v in test_f1)  # finite scores: no NaN from overflow
    scores = train_scores(db, run_id)
    assert scores["tokens_per_s"] > 0 and scores["n_params"] > 0
    from engine.training.throughput import peak_flops

    if peak_flops(info["gpu"], precision) is not None:  # a GPU of known peak gets an MFU, never a guessed one
        assert 0 < scores["mfu"] < 1


@pytest.mark.slow
def test_two_runs_share_one_gpu(db, tiny_grid):
    ids = enqueue_grid(db, tiny_grid(seeds="[1, 2, 3, 4]", epochs=2, train=200, eval=32))
    out = xltui("worker", "--db", db, "--gpus", "0", "--runs-per-gpu", "2", "--exit-when-idle", "--poll", "0.1",
                check=True)
    with Session(open_db(db)) as s:
        attempts = s.exec(select(Attempt)).all()
    assert [a.outcome for a in attempts] == ["succeeded"] * 4, out.stdout
    assert overlap(attempts) == 2 and {a.device for a in attempts} == {"cuda:0"}
    shared = [train_scores(db, i)["gpu_runs"] for i in ids]
    assert max(shared) > 1.2
    assert all(train_scores(db, i)["peak_gpu_bytes"] > 0 for i in ids)
