"""A loop's side of resuming: continue from the run's latest state, save it on cadence and
on a stop, keep the best weights on disk, and hand back the report's counters.

Both loops use it (the shared one in engine.training.loop, and the language adapters' MLM
loop in engine.training.madx), so every trainer resumes the same way.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

from engine.store.telemetry import MetricWriter
from engine.training import interrupt
from engine.training.loss_points import PendingPoints
from engine.training.resume import StateStore
from engine.training.train_state import LoopState, Trainables, epoch_batches


class Saving:
    """The saved state of one loop over ``objs``, in ``store`` (None: a loop with no run behind it, whose
    best weights go to a throw-away folder); its loss points in ``pending``. A context manager: on
    leaving, a throw-away store is removed."""

    def __init__(self, store: StateStore | None, objs: Trainables, writer: MetricWriter | None,
                 log: Callable[[str], None], pending: PendingPoints):
        self.store = store or StateStore.temporary(log)
        self.objs, self.writer, self.log, self.pending = objs, writer, log, pending
        self.loop = LoopState()
        self._resume_rng: dict | None = None
        self._started, self._prior_s = time.perf_counter(), 0.0
        self.resumed_step: int | None = None
        self.store.on_save.append(self._saved)

    def __enter__(self) -> Saving:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.store.on_save.remove(self._saved)
        if self.store.scratch:
            self.store.clear()

    def resume(self, total_steps: int) -> LoopState:
        """The loop's state: the run's latest saved one restored into ``objs``, or a fresh one."""
        found = self.store.latest()
        if found is not None:
            manifest, payload = found
            try:
                self.loop = self.objs.apply(payload)
            except Exception as exc:  # a state that passed its checks and still does not fit: never again
                self.store.clear()
                raise RuntimeError(f"saved state {self.store.folder / manifest['file']} does not fit this run "
                                   f"({exc}); removed, so the next attempt starts at step 0") from exc
            self._resume_rng, self.resumed_step = payload["rng"], self.loop.step
            self._prior_s = self.loop.seconds
            self.log(f"resumed at step {self.loop.step} of {total_steps} (epoch {self.loop.epoch}, "
                     f"{self.loop.batches_done} batches into it) from {self.store.folder / manifest['file']}")
        if self.store.on_resume is not None:  # 0: a fresh start (None stays for an attempt that never got here)
            self.store.on_resume(self.loop.step)
        if self.writer:
            self.writer.log(0, total_steps=total_steps)
        return self.loop

    def batches(self, loader: Iterable) -> Iterator:
        """The batches of the epoch the loop is in (a resumed one: from where it stopped), else the next."""
        at_step, self._resume_rng = self._resume_rng, None
        if at_step is None:
            self.loop.epoch += 1
            self.loop.batches_done = 0
        self.pending.start_window()
        return epoch_batches(loader, self.objs.generators, self.loop, at_step)

    def point(self, where: str, n: int) -> None:
        """A point a test may stop a run that did not resume at (engine.training.interrupt.at)."""
        if self.resumed_step is None:
            interrupt.at(where, n)

    def step_done(self) -> None:
        """After an optimizer step: stop here if asked (saved by ``on_stop``), else save if due (written
        in the background while training goes on)."""
        self.point("step", self.loop.step)
        interrupt.check()
        if self.store.due(self.loop.step):
            self.save(background=True)

    def save(self, background: bool = False) -> None:
        """The state now, with every metric point up to it written first (its curve stays whole)."""
        self.pending.flush()
        if self.writer is not None:
            self.writer.flush()
        self.loop.seconds = self._prior_s + time.perf_counter() - self._started
        self.store.save(self.loop.step, self.objs.payload(self.loop), self.loop.best_file, background=background)

    def _saved(self, step: int) -> None:
        """A state is on disk: a test's stop point."""
        self.point("save", step)

    def save_best(self, step: int) -> str:
        return self.store.save_best(step, self.objs.weights())

    @contextmanager
    def on_stop(self) -> Iterator[None]:
        """Training under a stop request: it waits for a step boundary, where the state is saved and
        ``Interrupted`` ends the run."""
        with interrupt.deferred():
            try:
                yield
                interrupt.check()  # a stop asked after the loop's last check: saved too, not swallowed
            except interrupt.Interrupted as stop:
                self.save()
                self.log(f"stopped at step {self.loop.step} ({stop.reason}): training state saved in {self.store.folder}")
                raise

    def finish(self) -> float:
        """Training is over: a run that saved states saves the final one (a stop while it is tested then
        costs no training); the model gets the best weights where early stopping kept some. Returns the
        loop's wall time over every attempt."""
        self.store.wait()
        if self.store.saved_step is not None and self.store.saved_step != self.loop.step:
            self.save()
        if self.loop.best_file is not None:
            self.objs.load_weights(self.store.load_best(self.loop.best_file))
        return self._prior_s + time.perf_counter() - self._started
