"""A worker slot: claim a run, run it in its own process, record how the attempt ended.

One ``Slot`` per device (a GPU index or the CPU), or several sharing one (``slot_options``).
Each run executes in its own process (engine.runner.run_process), so a CUDA OOM or a
segfault kills one run, not the queue. While it runs, the slot renews its lease (one loop,
``Slot._hold``, which also holds the claim while the warm launcher starts); when the renewal
fails the run was cancelled (or taken over) and its process is killed. How the attempt
ended is ``classify``'s, a pure function of what the slot saw. The slot's row in the workers
table is engine.store.workers'; what a signal asks of a slot, engine.runner.stop's.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import IO, Callable, Iterable

from sqlalchemy.engine import Engine

from engine.runfiles import OOM_EXIT, RunFiles, disk_full
from engine.runner.admission import GpuGate
from engine.runner.disk_space import run_disk_error, wait_for_space
from engine.runner.exits import failure_text, killed_by, tail, visible_device
from engine.runner.packing import GPU_RUNS_METRIC
from engine.runner.run_process import KILL_GRACE_S, RunProcess
from engine.runner.slot_setup import SlotOptions, run_env
from engine.runner.stop import WORKER_STOPPED
from engine.runner.warm import Launcher
from engine.settings import artifacts_root, disk_pause_s
from engine.spec import Outcome, RunStatus, StopAction, WorkerState, parse_spec
from engine.store import queue, resumes, workers
from engine.store.results import add_train_scores


def uses_adapters(spec_json: str) -> bool:
    """Whether a claimed run needs the adapters library; a spec this version cannot read (the run
    process says why) counts as needing everything."""
    try:
        return parse_spec(spec_json).uses_adapters
    except ValueError:  # pydantic's ValidationError and JSON's errors are ValueErrors
        return True

class Slot:
    """Works through the queue on one device until stopped."""

    def __init__(self, engine: Engine, opts: SlotOptions, notify: Callable[[str], None] | None = None,
                 gate: GpuGate | None = None):
        self.engine, self.opts, self.gate = engine, opts, gate  # gate: shared by the worker's GPU slots
        self.gpu_id = visible_device(opts.device, os.environ.get("CUDA_VISIBLE_DEVICES")) if gate else ""
        self._notify = notify or (lambda _msg: None)
        self.unsaid = 0  # lines the worker's log could not take (its disk was full)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{opts.label or opts.device}"
        self.stop_claiming = threading.Event()  # finish the current run, take no more
        self.abort = threading.Event()  # stop the current run too; it is re-queued
        self.abort_reason = WORKER_STOPPED
        self.proc: RunProcess | None = None
        self.launcher = Launcher(self._env(), os.getcwd(), self.notify) if opts.warm else None
        self.runs_done = 0
        self._last_beat: tuple[str, int | None, float] = ("", None, 0.0)  # state, run, time

    def notify(self, message: str) -> None:
        """Tell the worker's terminal or log; a full disk under that log loses the line, never the worker."""
        try:
            self._notify(message)
        except OSError:
            self.unsaid += 1

    # -- its row in the workers table (engine.store.workers) and stops ------------------
    def _beat(self, state: WorkerState, run_id: int | None, *, every_s: float = 5.0) -> None:
        """Keep this slot's row in the workers table fresh (at most every ``every_s`` unless it changed).

        A stop requested through the row (the app's; the beat keeps it) makes the slot stop
        claiming: it finishes its current run, then stops.
        """
        now = time.monotonic()  # only paces the beats; what is stored is the server's time
        if (state, run_id) == self._last_beat[:2] and now - self._last_beat[2] < every_s:
            return
        self._last_beat = (state, run_id, now)
        workers.heartbeat(self.engine, self.worker_id, state, run_id, device=self.opts.device,
                          job_id=self.opts.job_id, job_index=self.opts.job_index)
        if state != WorkerState.STOPPED and self.stop_requested():
            self.request_stop()

    def stop_requested(self) -> bool:
        """Someone asked this slot to stop (its row says ``stopping``)."""
        return workers.stop_requested(self.engine, self.worker_id)

    def request_stop(self) -> None:
        """Finish the current run, claim no more (a stop requested through the workers table)."""
        if not self.stop_claiming.is_set():
            self.notify(f"{self.worker_id}: stop requested; finishing the current run, then stopping")
        self.stop(StopAction.FINISH)

    def stop(self, action: StopAction, reason: str = "") -> None:
        """Do what a stop asks (engine.runner.stop): claim no more; for REQUEUE and PREEMPTED also stop
        the current run now, which goes back to the queue with ``reason`` as its attempt's error."""
        self.stop_claiming.set()
        if action.requeues:
            self.abort_reason = reason or self.abort_reason
            self.abort.set()

    # -- the loop ---------------------------------------------------------------------
    def run_forever(self) -> int:
        self._beat(WorkerState.IDLE, None)
        if self.launcher is not None and self.opts.warm_at_start:
            self.launcher.start_in_background()  # its imports overlap the first claim
        try:
            while not self.stop_claiming.is_set():
                if self.stop_requested():  # asked to stop while idle: before claiming anything
                    self.request_stop()
                    break
                queue.requeue_expired(self.engine)
                queue.fail_blocked(self.engine)
                claim, why = self._claim()
                if claim is None:
                    if self.opts.exit_when_idle and workers.nothing_left(self.engine, self.opts.study_ids):
                        break
                    self._beat(WorkerState.IDLE, None)
                    self.stop_claiming.wait(self.opts.poll_s)
                    continue
                self.notify(f"run {claim.run_id} started on {self.opts.label or self.opts.device} "
                            f"(attempt {claim.attempt}{'; ' + why if why else ''})")
                started = time.time()
                try:
                    outcome = self.execute(claim)
                finally:
                    shared = self.gate.done(self.worker_id, self.gpu_id) if self.gate else None
                if outcome == Outcome.SUCCEEDED and shared is not None:  # what packing learns from
                    add_train_scores(self.engine, claim.run_id, claim.attempt_id, {GPU_RUNS_METRIC: round(shared, 3)})
                self.notify(f"run {claim.run_id} {outcome} after {time.time() - started:.0f}s")
                self.runs_done += 1
        finally:
            if self.launcher is not None:
                self.launcher.close()
            self._beat(WorkerState.STOPPED, None)
        return self.runs_done

    def _claim(self) -> tuple[queue.Claim | None, str]:
        """The next run for this slot, through the GPU gate where the worker has one; else why it waits."""
        def take() -> queue.Claim | None:
            return queue.claim_next(self.engine, self.worker_id, self.opts.device, lease_s=self.opts.lease_s,
                                    study_ids=self.opts.study_ids)

        if self.gate is None:
            return take(), ""
        claim, why = self.gate.claim(self.worker_id, self.gpu_id, lambda: queue.next_spec(self.engine, self.opts.study_ids),
                                     take, self._release)
        if claim is None and why != "nothing queued" and self.gate.first_time(self.gpu_id, why):
            self.notify(f"{self.opts.device}: the next run waits: {why}")
        return claim, why if claim is not None and self.gate.runs_on(self.gpu_id) > 1 else ""

    def _release(self, claim: queue.Claim, reason: str) -> None:
        """Give back a claim the gate does not admit after all (the attempt does not count)."""
        queue.finish(self.engine, claim, self.worker_id, Outcome.REQUEUED, reason)

    def _start(self, claim: queue.Claim, files: RunFiles, log: IO[bytes]) -> RunProcess:
        """The run's process: forked by the warm launcher when it is ready, else a fresh interpreter."""
        args = ["--run", str(claim.run_id), "--attempt", str(claim.attempt_id),  # the URL: in its environment
                "--worker", self.worker_id, "--out", str(files.folder)]
        return RunProcess.start(args, env=self._env(claim), cwd=os.getcwd(), log=log, log_path=str(files.log),
                                launcher=self.launcher, said=lambda m: self.notify(f"{self.worker_id}: {m}"),
                                adapters=uses_adapters(claim.spec_json))

    def _env(self, claim: queue.Claim | None = None) -> dict[str, str]:
        return run_env(self.opts, claim.grad_accumulation if claim is not None else 1)

    def execute(self, claim: queue.Claim) -> Outcome:
        """Run one claimed run to its end; returns the outcome recorded."""
        files = RunFiles.of(artifacts_root(self.opts.db_url), claim.run_id, claim.spec_hash, claim.attempt)
        try:
            files.folder.mkdir(parents=True, exist_ok=True)
            log = open(files.log, "ab")
        except OSError as exc:
            if (full := disk_full(exc, files.folder)) is None:
                raise
            return self._out_of_space(claim, full)
        self._beat(WorkerState.BUSY, claim.run_id)
        queue.set_log_path(self.engine, claim.attempt_id, str(files.log))
        with log:
            rc, held = self._run(claim, files, log)
        status = None if held.lost else workers.run_status(self.engine, claim.run_id)
        outcome = classify(lost=held.lost, aborted=held.aborted or self.abort.is_set(), status=status)
        return self._record(claim, outcome, rc, files)

    def _run(self, claim: queue.Claim, files: RunFiles, log: IO[bytes]) -> tuple[int | None, Held]:
        """Start the run's process (once a warm launcher being started is up) and hold the claim until it
        ends; its exit status, None if it never started (aborted or lost while the launcher started)."""
        if self.launcher is not None:
            self.launcher.start_in_background()  # if it died since the last run
            held = self._hold(claim, self.launcher.wait_started)  # importing torch takes longer than a lease
            if held.aborted or held.lost:
                return None, held
        proc = self.proc = self._start(claim, files, log)
        if self.gate is not None:
            self.gate.started(self.worker_id, self.gpu_id, proc.pid)
        held = self._hold(claim, lambda timeout: proc.wait(timeout) is not None, proc)
        self.proc = None
        return proc.returncode, held

    def _hold(self, claim: queue.Claim, done: Callable[[float], bool], proc: RunProcess | None = None) -> Held:
        """The lease loop: wait in short steps (``done(timeout)``) until done, renewing the claim's lease
        and this slot's heartbeat every quarter lease. An abort (a preempted job has seconds) or a lost
        lease (the run was cancelled or taken over) is acted on at once: the run's process gets SIGTERM
        (it saves its training state at its next step boundary and ends) and SIGKILL if it has not
        ended ``KILL_GRACE_S`` later; the lease is still renewed meanwhile, so nobody else takes the run
        while it saves. With no process yet, an abort or a lost lease returns at once."""
        beat_every = max(0.2, self.opts.lease_s / 4)
        next_beat = time.monotonic() + beat_every
        held, kill_at = Held(), None
        while not done(min(0.2, beat_every)):
            if kill_at is not None and time.monotonic() >= kill_at:
                assert proc is not None
                proc.signal(signal.SIGKILL)
                kill_at = float("inf")
            if self.abort.is_set() and not held.aborted:
                held.aborted = True
                if proc is None:
                    return held
                kill_at = kill_at or self._terminate(proc)
            if held.lost or time.monotonic() < next_beat:
                continue
            next_beat = time.monotonic() + beat_every
            if queue.renew_lease(self.engine, claim.run_id, self.worker_id, self.opts.lease_s):
                self._beat(WorkerState.BUSY, claim.run_id)
                continue
            if workers.run_status(self.engine, claim.run_id) == RunStatus.SUCCEEDED:
                continue  # it recorded its results and is exiting: no lease needed, nothing lost
            held.lost = True
            if proc is None:
                return held
            kill_at = kill_at or self._terminate(proc)
        return held

    @staticmethod
    def _terminate(proc: RunProcess) -> float:
        """Ask the run's process to stop (SIGTERM: it saves its state first); when to SIGKILL it."""
        proc.signal(signal.SIGTERM)
        return time.monotonic() + KILL_GRACE_S

    def _record(self, claim: queue.Claim, outcome: Outcome, rc: int | None, files: RunFiles) -> Outcome:
        """Record how the attempt ended in the queue (a run that succeeded recorded it itself)."""
        if outcome == Outcome.LOST:
            queue.finish(self.engine, claim, self.worker_id, Outcome.FAILED,
                         "run was cancelled or taken over; process stopped")
        elif outcome == Outcome.REQUEUED:
            queue.finish(self.engine, claim, self.worker_id, Outcome.REQUEUED, self.abort_reason)
        elif outcome == Outcome.FAILED:
            assert rc is not None  # a run that never started was aborted or lost
            return self._failed(claim, rc, files)
        return outcome

    def _failed(self, claim: queue.Claim, rc: int, files: RunFiles) -> Outcome:
        """A run process that ended without results: why, from its exit status and log, and whether the
        run gets another attempt."""
        if rc == 0:
            error = "run process exited without recording results"
        else:
            error = failure_text(rc, files.log)
            if (full := run_disk_error(rc, files.folder, tail(files.log))) is not None:
                return self._out_of_space(claim, error if error.startswith(full) else f"{full}\n{error}")
        # killed by a signal nobody here sent (the OOM killer's SIGKILL, a `kill PID`'s SIGTERM) or out of
        # GPU memory with a micro-batch that can still halve: another attempt, up to the run's limit (with
        # twice the gradient accumulation after an OOM); an error of the run's own is final
        oom = rc == OOM_EXIT
        killed = killed_by(rc) is not None
        # an attempt killed after it saved a newer training state made progress: the next one continues
        # from there, so it does not count against the run's attempts (a run that keeps dying without
        # saving anything new still fails after its max_attempts)
        progressed = killed and resumes.progressed(self.engine, claim.attempt_id)
        queue.finish(self.engine, claim, self.worker_id, Outcome.FAILED, error,
                     retry=oom or killed, accumulate=oom, counted=not progressed)
        return Outcome.FAILED

    def _out_of_space(self, claim: queue.Claim, error: str) -> Outcome:
        """The attempt failed for a full disk: the run goes back to the queue (up to its attempt limit),
        and this slot claims nothing until there is space again (engine.runner.disk_space)."""
        queue.finish(self.engine, claim, self.worker_id, Outcome.FAILED, error, retry=True)
        wait_for_space(artifacts_root(self.opts.db_url), disk_pause_s(), self.stop_claiming, self.notify,
                       lambda: self._beat(WorkerState.IDLE, None), f"run {claim.run_id}: {error.splitlines()[0]}")
        return Outcome.FAILED


@dataclass
class Held:
    """What the lease loop saw: the worker aborted the run (it stops and goes back to the queue), or
    the lease was lost (the run was cancelled or taken over)."""

    aborted: bool = False
    lost: bool = False


def classify(*, lost: bool, aborted: bool, status: RunStatus | None) -> Outcome:
    """How an attempt ended, from what its slot saw: a lost lease, the worker's abort, and the run's
    status once its process has ended (a run that succeeded stored its results and that status)."""
    if lost:
        return Outcome.LOST
    if status == RunStatus.SUCCEEDED:  # also a process killed after it stored its results: nothing lost
        return Outcome.SUCCEEDED
    if aborted:  # also a run that died of the same signal as its worker (scancel)
        return Outcome.REQUEUED
    return Outcome.FAILED


def run_slots(engine: Engine, slots: Iterable[Slot]) -> list[threading.Thread]:
    threads = [threading.Thread(target=s.run_forever, name=s.worker_id, daemon=True) for s in slots]
    for t in threads:
        t.start()
    return threads
