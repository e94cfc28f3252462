"""The optimisation loop reads the loss from the device every LOG_EVERY steps, not every step,
and still writes a point for every step and stops on the step a loss became NaN."""

from __future__ import annotations

import math
import sys

import pytest
import torch
from sqlmodel import Session, select
from torch.overrides import TorchFunctionMode

import engine.training.loop as loop
import engine.training.loss_points as loss_points
from engine.spec import TrainParams
from engine.store.schema import MetricPoint
from tests.support.stored_runs import writer_on
from tests.support.tagger import Tagger, batches

HOST_READS = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.__float__, torch.Tensor.__bool__,
              torch.Tensor.__format__, torch.Tensor.numpy}


class LoopReads(TorchFunctionMode):
    """Counts the tensor reads to the host made by the loop itself (engine/training/loop.py and its
    loss points, what makes the host wait for a GPU), not those inside torch (e.g. AdamW's CPU
    step counters)."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in HOST_READS and sys._getframe(1).f_code.co_filename in (loop.__file__, loss_points.__file__):
            self.n += 1
        return func(*args, **(kwargs or {}))


def test_loss_is_read_every_log_interval_and_every_step_is_logged(db):
    steps, epochs = 25, 2
    writer = writer_on(db)
    params = TrainParams(lr=1e-2, epochs=epochs, patience=5)
    with LoopReads() as reads:
        report = loop.train(Tagger(), batches(steps), params, None, writer, "cpu", log=lambda _: None)
    writer.close()
    assert report.steps == steps * epochs
    # per epoch: reads at steps 10 and 20, then the epoch's last 5 steps; a read per step would be 50
    assert loss_points.LOG_EVERY == 10 and reads.n == epochs * 3
    with Session(writer.engine) as s:
        points = s.exec(select(MetricPoint).where(MetricPoint.attempt_id == writer.attempt_id)).all()
    by_name: dict[str, list[int]] = {}
    for p in points:
        by_name.setdefault(p.name, []).append(p.step)
    assert sorted(by_name["train_loss"]) == list(range(1, steps * epochs + 1))
    assert sorted(by_name["lr"]) == list(range(1, steps * epochs + 1))
    assert sorted(by_name["examples_per_s"]) == [10, 20, 30, 40, 50]  # every 10 steps and the last one
    assert all(math.isfinite(p.value) for p in points)


def test_a_nan_loss_stops_the_run_naming_its_step():
    with pytest.raises(FloatingPointError, match=r"training loss became nan at step 13 of epoch 1"):
        loop.train(Tagger(nan_at=13), batches(25), TrainParams(epochs=1), None, None, "cpu", log=lambda _: None)
