"""Several runs per GPU in one worker: the gate its GPU slots pass before they claim a run.

``xltui worker --gpus 0,1 --runs-per-gpu N|auto`` gives each GPU N slots (``auto``:
``AUTO_SLOTS_PER_GPU``), labelled ``cuda:0#2``; each run still runs in its own process
pinned by CUDA_VISIBLE_DEVICES. A slot whose GPU has none of this worker's runs claims at
once. Otherwise it asks the gate, which looks at the run the queue would hand out next:
its expected peak memory (engine.runner.packing: measured for its shape, else estimated
from the parameter count) plus a margin must fit the GPU's free memory as NVML reports it,
less what runs started here will still allocate; an idle GPU elsewhere in the worker takes
it first; with ``auto`` the measured throughput of more runs per GPU must say packing
helps. The claim is checked again (another worker may have taken that run) and released
unused if the run it got does not fit.

The gate also measures how many runs shared each run's GPU, averaged over the run, and the
slot stores it with the run (``gpu_runs``): the packing level ``auto`` learns from.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from engine.gpus import GIB, Gpu, GpuError, read_gpus
from engine.runner.devices import DeviceError
from engine.runner.packing import (
    DEFAULT_MARGIN_BYTES,
    GpuState,
    Measured,
    admit,
    expected_peak,
    level_throughput,
    measured_runs,
    packing_helps,
    shape_of,
)
from engine.store.queue import Claim

AUTO_SLOTS_PER_GPU = 8  # with --runs-per-gpu auto: the most runs a GPU may take; memory and throughput decide
HISTORY_TTL_S = 30.0  # how long the measured history is reused before it is read again
RECHECK_S = 2.0  # a GPU's "wait" stands this long unless one of its runs starts or ends: one look per GPU, not per slot
Probe = Callable[[Sequence[str]], list[Gpu]]


def probe_gpus(ids: Sequence[str]) -> list[Gpu]:
    """The gate's GPUs now, with each process's memory (engine.gpus); a GPU NVML fails on is not
    offered, the others are; none where NVML fails as a whole or is absent: one run per GPU."""
    try:
        return read_gpus(ids, processes=True)
    except GpuError as exc:
        return exc.gpus


def parse_runs_per_gpu(text: str | None) -> int | None:
    """``--runs-per-gpu``: a whole number (1: one run per GPU, the default) or ``auto`` (None)."""
    if text is None:
        return 1
    if text.strip().lower() == "auto":
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise DeviceError(f"--runs-per-gpu: expected a whole number of runs per GPU (1 or more) or auto, got {text!r}")
    return int(text)


def runs_per_gpu_for(devices: Sequence[str], text: str | None) -> int | None:
    """``--runs-per-gpu`` checked against the devices the worker got: it packs GPUs, not the CPU."""
    runs = parse_runs_per_gpu(text)
    if runs != 1 and not any(d.startswith("cuda:") for d in devices):
        raise DeviceError(f"--runs-per-gpu {text}: this worker runs on the CPU (no GPU given or visible); "
                          "--cpu-slots sets runs side by side there")
    return runs


@dataclass
class Placed:
    """One of this worker's runs on a GPU, as the gate accounts for it."""

    run_id: int
    need: int  # its expected peak
    started: float
    pid: int | None = None
    shared_s: float = 0.0  # runs on its GPU × seconds, so far
    since: float = 0.0  # when shared_s was last brought up to date


@dataclass(frozen=True)
class Decision:
    admit: bool
    reason: str


class GpuGate:
    """Shared by the GPU slots of one worker process; every method is thread-safe."""

    def __init__(self, engine: Engine, gpu_ids: Sequence[str], runs_per_gpu: int | None, *,
                 probe: Probe = probe_gpus, margin: int = DEFAULT_MARGIN_BYTES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine, self.gpu_ids, self.runs_per_gpu = engine, list(dict.fromkeys(gpu_ids)), runs_per_gpu
        self.probe, self.margin, self.clock = probe, margin, clock
        self._lock = threading.Lock()
        self._on: dict[str, dict[str, Placed]] = {g: {} for g in self.gpu_ids}  # GPU -> slot -> its run
        self._history: tuple[float, list[Measured]] | None = None
        self._changes = 0  # runs placed or ended so far: a held decision is stale once it moves
        self._held: dict[str, tuple[float, int, str]] = {}  # GPU -> (when, changes then, why the next run waits)
        self._said: dict[str, str] = {}  # GPU -> the last reason announced for it

    # -- what the gate knows ----------------------------------------------------------------
    def history(self) -> list[Measured]:
        now = self.clock()
        if self._history is None or now - self._history[0] > HISTORY_TTL_S:
            self._history = (now, measured_runs(self.engine))
        return self._history[1]

    def need_of(self, spec_json: str) -> tuple[int | None, str]:
        """A run's expected peak memory and where the figure comes from; None: nothing to go by."""
        shape = shape_of(spec_json)
        if shape is None:
            return None, "a language-adapter run (no measured shape): only on an idle GPU"
        return expected_peak(shape, self.history())

    def states(self) -> list[GpuState]:
        """This worker's GPUs now: free memory less what its runs started on them will still allocate."""
        states = []
        for gpu in self.probe(self.gpu_ids):
            placed = self._on.get(gpu.id, {}).values()
            pending = sum(max(0, p.need - gpu.used_by_pid.get(p.pid or -1, 0)) for p in placed)
            states.append(GpuState(gpu.id, gpu.total_bytes, max(0, gpu.free_bytes - pending), len(placed)))
        return states

    def runs_on(self, gpu_id: str) -> int:
        with self._lock:
            return len(self._on.get(gpu_id, {}))

    def decide(self, gpu_id: str, spec_json: str) -> Decision:
        """May a run of ``spec_json`` start on ``gpu_id`` now (the lock held)?

        Only GPUs under the run limit where (with ``auto``) one more run should still raise the
        throughput compete; among them ``admit`` prefers an idle one, then the most free memory,
        so a run waits for another GPU only where that GPU's slot will take it."""
        runs_now = len(self._on[gpu_id])
        if runs_now == 0:
            return Decision(True, "an idle GPU")
        limit = AUTO_SLOTS_PER_GPU if self.runs_per_gpu is None else self.runs_per_gpu
        if runs_now >= limit:
            return Decision(False, f"{runs_now} runs on the GPU, the most it takes")
        need, source = self.need_of(spec_json)
        if need is None:
            return Decision(False, source)
        states = self.states()
        mine = next((s for s in states if s.id == gpu_id), None)
        if mine is None:
            return Decision(False, "NVML cannot read this GPU's memory: one run at a time")
        why = ""
        if self.runs_per_gpu is None:
            shape = shape_of(spec_json)
            assert shape is not None
            levels = level_throughput(self.history(), shape)
            helps, why = packing_helps(levels, runs_now)
            if not helps:
                return Decision(False, why)
            states = [s for s in states if packing_helps(levels, s.runs)[0]]
        chosen = admit(states, need, runs_per_gpu=limit, margin=self.margin)
        if chosen is None:
            return Decision(False, f"needs {need / GIB:.1f} GiB ({source}) + {self.margin / GIB:.1f} GiB margin; "
                                   f"{mine.free_bytes / GIB:.1f} GiB free")
        if chosen != gpu_id:
            idle = next(s for s in states if s.id == chosen).runs == 0
            return Decision(False, f"GPU {chosen} is idle: it takes the run first" if idle
                            else f"GPU {chosen} has more room for it")
        return Decision(True, f"{runs_now + 1} runs on the GPU; expects {need / GIB:.1f} GiB, {source}"
                              + (f"; {why}" if why else ""))

    # -- claiming through the gate ----------------------------------------------------------
    def claim(self, slot_id: str, gpu_id: str, peek: Callable[[], str | None], take: Callable[[], Claim | None],
              release: Callable[[Claim, str], None]) -> tuple[Claim | None, str]:
        """A claim for the slot, or (None, why it waits). ``peek``: the spec the queue would hand out
        next; ``take``: claim it; ``release``: give back a claim that does not fit after all."""
        with self._lock:
            if self._on[gpu_id]:
                held = self._held.get(gpu_id)
                if held is not None and held[1] == self._changes and self.clock() - held[0] < RECHECK_S:
                    return None, held[2]
                spec_json = peek()
                if spec_json is None:
                    return None, "nothing queued"
                decision = self.decide(gpu_id, spec_json)
                if not decision.admit:
                    self._held[gpu_id] = (self.clock(), self._changes, decision.reason)
                    return None, decision.reason
            claim = take()
            if claim is None:
                return None, "nothing queued"
            decision = self.decide(gpu_id, claim.spec_json)
            if not decision.admit:  # another worker took the run peeked at; this one does not fit
                release(claim, f"not admitted to GPU {gpu_id}: {decision.reason}")
                return None, decision.reason
            need, _ = self.need_of(claim.spec_json)  # what it will still take, once a second run asks
            now = self.clock()
            self._advance(gpu_id, now)
            self._on[gpu_id][slot_id] = Placed(claim.run_id, need or 0, now, since=now)
            self._changes += 1
            return claim, decision.reason

    def first_time(self, gpu_id: str, why: str) -> bool:
        """Whether ``why`` (a GPU's next run waits) is news: said once per GPU, not by each of its slots,
        nor again when only its figures moved (free memory changes all the time)."""
        kind = re.sub(r"\d[\d.,]*", "#", why)
        with self._lock:
            if self._said.get(gpu_id) == kind:
                return False
            self._said[gpu_id] = kind
            return True

    def started(self, slot_id: str, gpu_id: str, pid: int) -> None:
        """The slot's run process is up: its own memory is read from NVML from now on."""
        with self._lock:
            if (placed := self._on[gpu_id].get(slot_id)) is not None:
                placed.pid = pid

    def done(self, slot_id: str, gpu_id: str) -> float | None:
        """The slot's run ended: its GPU's runs, averaged over the run (None if it was not placed)."""
        with self._lock:
            now = self.clock()
            self._advance(gpu_id, now)
            placed = self._on[gpu_id].pop(slot_id, None)
            self._changes += 1
            self._history = None  # the run may have measured its shape: read again at the next decision
        if placed is None:
            return None
        span = now - placed.started
        return placed.shared_s / span if span > 0 else 1.0

    def _advance(self, gpu_id: str, now: float) -> None:
        """Bring every run's runs-on-its-GPU integral up to ``now`` before the count changes."""
        runs = self._on[gpu_id]
        for placed in runs.values():
            placed.shared_s += len(runs) * (now - placed.since)
            placed.since = now
