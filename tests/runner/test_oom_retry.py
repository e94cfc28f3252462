"""A run out of GPU memory is retried as a new attempt with half the micro-batch and twice the
gradient accumulation, so the effective batch and the results' meaning stay; after micro-batch 1 it
fails saying so. The OOM is simulated ($XLTUI_TEST_OOM_ABOVE), everything else is real: the loop,
a real worker and its run processes, the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from sqlmodel import Session, select

import engine.training.loop as loop
from engine.settings import GRAD_ACCUMULATION_ENV, TEST_OOM_ENV
from engine.spec import TrainParams
from engine.store.db import open_db
from engine.store.schema import Artifact, Result, Run
from tests.support.env import xltui
from tests.support.tagger import Tagger, batches
from tests.support.workers import attempts, enqueue_grid


def test_micro_batches_share_the_loss_by_labelled_tokens():
    batch = dict(input_ids=torch.zeros(5, 4, dtype=torch.long),
                 labels=torch.tensor([[1, 1, -100, -100]] * 2 + [[1, 1, 1, 1]] * 3))
    parts = loop.micro_batches(batch, 2)
    assert [int(p["input_ids"].shape[0]) for p, _ in parts] == [3, 2]
    assert [share for _, share in parts] == [8 / 16, 8 / 16]  # 2+2+4 and 4+4 labelled tokens
    assert loop.micro_batches(batch, 1) == [(batch, 1.0)]
    unlabelled = dict(input_ids=torch.zeros(4, 2, dtype=torch.long),
                      labels=torch.tensor([[-100, -100]] * 2 + [[1, 1]] * 2))
    assert [share for _, share in loop.micro_batches(unlabelled, 2)] == [1.0]  # the empty half is skipped


@pytest.mark.parametrize("accumulation", [2, 3])
def test_accumulated_micro_batches_train_the_same_weights(accumulation, monkeypatch: pytest.MonkeyPatch):
    params = TrainParams(lr=1e-2, batch_size=6, epochs=2, warmup_ratio=0.0)
    data = batches(6, size=6)
    for b in data:
        b["labels"][0, :3] = -100  # uneven labelled tokens per row: the shares matter
    weights = {}
    for n in (1, accumulation):
        monkeypatch.setenv(GRAD_ACCUMULATION_ENV, str(n))
        torch.manual_seed(0)
        model = Tagger()
        report = loop.train(model, data, params, None, None, "cpu", log=lambda _: None)
        assert report.grad_accumulation == n
        weights[n] = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for name, tensor in weights[1].items():
        assert torch.allclose(tensor, weights[accumulation][name], atol=1e-6), name


@pytest.mark.slow
def test_an_out_of_memory_run_is_retried_with_half_the_micro_batch(tmp_path: Path, tiny_grid,
                                                                   monkeypatch: pytest.MonkeyPatch):
    db = str(tmp_path / "experiments.db")
    (run_id,) = enqueue_grid(db, tiny_grid(), max_attempts=3)  # batch_size 8
    monkeypatch.setenv(TEST_OOM_ENV, "4")  # a "GPU" that holds micro-batches of 4
    out = xltui("worker", "--db", db, "--cpu", "--exit-when-idle", "--poll", "0.1")
    assert out.returncode == 0, out.stdout + out.stderr
    first, second = attempts(db, run_id)
    assert (first.outcome, second.outcome) == ("failed", "succeeded")
    assert first.error.startswith("CUDA out of memory at micro-batch 8 (batch 8 in 1); next attempt: "
                                  "micro-batch 4, accumulation 2"), first.error
    with Session(open_db(db, create=False)) as s:
        run = s.get(Run, run_id)
        assert (run.status, run.grad_accumulation) == ("succeeded", 2)
        info = s.exec(select(Artifact).where(Artifact.attempt_id == second.id, Artifact.kind == "run_info")).one()
        stored = {r.metric: r.value for r in s.exec(select(Result).where(Result.attempt_id == second.id,
                                                                          Result.split == "train"))}
    assert json.loads(Path(info.path).read_text())["batches"] == dict(batch_size=8, grad_accumulation=2, micro_batch=4)
    assert stored["grad_accumulation"] == 2
    assert "each batch of 8 in 2 micro-batches" in Path(second.log_path).read_text()


@pytest.mark.slow
def test_out_of_memory_at_micro_batch_one_fails_saying_so(tmp_path: Path, tiny_grid, monkeypatch: pytest.MonkeyPatch):
    db = str(tmp_path / "experiments.db")
    (run_id,) = enqueue_grid(db, tiny_grid(train=16, eval=8), max_attempts=6)
    monkeypatch.setenv(TEST_OOM_ENV, "0")  # nothing fits
    out = xltui("worker", "--db", db, "--cpu", "--exit-when-idle", "--poll", "0.1")
    assert out.returncode == 0, out.stdout + out.stderr
    tried = attempts(db, run_id)
    assert [a.outcome for a in tried] == ["failed"] * 4  # micro-batch 8, 4, 2, 1: then no retry is left to try
    with Session(open_db(db, create=False)) as s:
        run = s.get(Run, run_id)
    assert run.status == "failed"
    assert run.error.startswith("CUDA out of memory even at micro-batch 1 (batch 8 in 8)"), run.error
    assert "lower train.max_length or use a GPU with more memory" in run.error
