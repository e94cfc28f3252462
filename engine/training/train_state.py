"""What a training loop is, as one object that is saved and restored.

``LoopState`` is where the loop stands (step, epoch, batches of the epoch done, early
stopping, the counters behind tokens/s); ``Trainables`` are the live objects whose state
goes with it (the weights that train, optimizer, LR scheduler, fp16 GradScaler, every
random generator). ``payload``/``apply`` turn the two into plain data for
engine.training.resume and back. Only weights that train are saved: a frozen base (MAD-X)
is rebuilt from its files, never written a second time.

The data position is (epoch, batches done). The generators' state at the start of the
epoch is saved too, so a resumed run rebuilds the same batch order and skips the batches
already stepped (as ``Trainer``'s ``skip_first_batches``), then takes the generators'
state at the step it stopped at.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator

import torch

from engine.training import rng


@dataclass
class LoopState:
    step: int = 0
    epoch: int = 0  # the epoch in progress (1-based; 0: none begun)
    batches_done: int = 0  # batches of ``epoch`` consumed (stepped, or skipped as unusable)
    evaluated_epoch: int = 0  # the last epoch whose dev evaluation is done
    best: float = float("-inf")
    best_epoch: int = 0
    best_file: str | None = None  # engine.training.resume's name of the best weights so far
    bad_epochs: int = 0
    stopped_early: bool = False
    done: bool = False  # training finished (the selected weights are ``best_file``)
    n_examples: int = 0
    n_tokens: int = 0
    train_s: float = 0.0  # seconds spent in training steps, every attempt (tokens/s)
    seconds: float = 0.0  # wall time of the loop in earlier attempts
    skipped: int = 0  # batches with nothing to learn from (MLM: nothing masked)
    epoch_rng: dict[str, Any] | None = field(default=None, repr=False)  # generators at the epoch's start

    @classmethod
    def of(cls, data: dict[str, Any]) -> LoopState:
        return cls(**data)


@dataclass
class Trainables:
    """The live objects of a loop whose state a saved state holds."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler | None = None
    generators: list[rng.Generator] = field(default_factory=list)

    def weights(self) -> dict[str, torch.Tensor]:
        """The weights that train (a frozen base's are left out)."""
        return {n: p.detach() for n, p in self.model.named_parameters() if p.requires_grad}

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        """Put saved trainable weights back; every trainable weight must be among them."""
        trainable = set(self.weights())
        if set(weights) != trainable:
            missing, extra = sorted(trainable - set(weights)), sorted(set(weights) - trainable)
            raise ValueError(f"saved weights do not fit this model: missing {missing[:3]}, unexpected {extra[:3]}")
        self.model.load_state_dict(weights, strict=False)

    def payload(self, loop: LoopState) -> dict[str, Any]:
        return dict(loop=asdict(loop), weights=self.weights(), optimizer=self.optimizer.state_dict(),
                    scheduler=self.scheduler.state_dict(),
                    scaler=self.scaler.state_dict() if self.scaler is not None else None,
                    rng=rng.capture(self.generators))

    def apply(self, payload: dict[str, Any]) -> LoopState:
        """Restore every object from ``payload`` but the random generators: those are set after the
        data skip (``epoch_batches``) from ``payload['rng']``."""
        self.load_weights(payload["weights"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        if self.scaler is not None and payload.get("scaler"):
            self.scaler.load_state_dict(payload["scaler"])
        return LoopState.of(payload["loop"])


def epoch_batches(loader: Iterable, generators: list[rng.Generator], loop: LoopState,
                  resume_rng: dict[str, Any] | None) -> Iterator:
    """One epoch of ``loader``'s batches from ``loop.batches_done`` on.

    A fresh epoch first records the generators' state (``loop.epoch_rng``). A resumed one
    restores that state, draws the same order, skips the batches done, and then restores
    ``resume_rng`` (the generators at the saved step: dropout and masking go on as they would have).
    """
    if resume_rng is None:
        loop.epoch_rng = rng.capture(generators)
        yield from loader
        return
    assert loop.epoch_rng is not None
    rng.restore(loop.epoch_rng, generators)
    batches = iter(loader)
    for _ in range(loop.batches_done):
        next(batches, None)
    rng.restore(resume_rng, generators)
    yield from batches
