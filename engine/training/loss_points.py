"""A loop's loss points, read from the device in batches and written with their steps.

Reading a CUDA loss every step makes the host wait for the GPU each step (nanoGPT's
``log_interval``); ``PendingPoints`` reads up to ``LOG_EVERY`` at once.
"""

from __future__ import annotations

import math
import time

import torch

from engine.store.telemetry import MetricWriter

LOG_EVERY = 10  # steps between reads of the loss from the device (nanoGPT's log_interval)


class PendingPoints:
    """The last steps' losses, kept on the device until they are read in one transfer.

    Reading a CUDA loss with ``float()`` every step makes the host wait for the GPU
    each step; here the losses of up to ``LOG_EVERY`` steps are stacked and read at
    once (every ``LOG_EVERY`` steps and at the end of each epoch), checked for
    NaN/inf, and every step's point is still written with the step it belongs to.
    ``examples_per_s`` is written every ``LOG_EVERY`` steps and at the last step,
    over the examples since the previous one (or since the epoch began).
    ``loss_name``, ``rate`` and ``check``: what the language-adapter MLM loop logs
    (``mlm_loss``, no rate, no NaN stop: it skips batches that could give one).
    """

    def __init__(self, writer: MetricWriter | None, total_steps: int, *, loss_name: str = "train_loss",
                 rate: bool = True, check: bool = True):
        self.writer, self.total_steps = writer, total_steps
        self.loss_name, self.rate, self.check = loss_name, rate, check
        self.steps: list[tuple[int, float]] = []  # (step, lr after it)
        self.losses: list[torch.Tensor] = []
        self.parts: list[torch.Tensor] = []  # (ce, align) per step with the regulariser
        self.last_loss = float("nan")
        self.start_window()

    def start_window(self) -> None:
        self.window_t, self.window_n = time.perf_counter(), 0

    def add(self, step: int, loss: torch.Tensor, lr: float, size: int,
            parts: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
        self.steps.append((step, lr))
        self.losses.append(loss.detach())
        if parts is not None:
            self.parts.append(torch.stack([p.detach().float() for p in parts]))
        self.window_n += size

    def due(self, step: int) -> bool:
        return step % LOG_EVERY == 0 or step == self.total_steps

    def flush(self, epoch: int = 0, precision: str = "") -> None:
        """Read the pending losses (one device sync), stop on a non-finite one, write the points;
        ``epoch`` and ``precision`` only go into that error's message."""
        if not self.steps:
            return
        losses = torch.stack([x.float() for x in self.losses]).tolist()
        parts = torch.stack(self.parts).tolist() if self.parts else None
        for (step, lr), loss in zip(self.steps, losses):
            if self.check and not math.isfinite(loss):
                raise FloatingPointError(f"training loss became {loss} at step {step} of epoch {epoch} "
                                         f"(lr {lr:.2g}, precision {precision}): lower the "
                                         "learning rate or use fp32/bf16")
        last_step = self.steps[-1][0]
        rate = None
        if self.rate and self.due(last_step):
            rate = self.window_n / max(time.perf_counter() - self.window_t, 1e-9)
            self.start_window()
        if self.writer:
            for i, ((step, lr), loss) in enumerate(zip(self.steps, losses)):
                values = {self.loss_name: loss, "lr": lr}
                if parts is not None:
                    values.update(train_ce=parts[i][0], train_align=parts[i][1])
                if rate is not None and step == last_step:
                    values["examples_per_s"] = rate
                self.writer.log(step, **values)
        self.last_loss = losses[-1]
        self.steps, self.losses, self.parts = [], [], []
