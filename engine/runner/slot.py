"""The long-lived worker loop: claim a run, execute it in a subprocess, record the outcome.

One ``Slot`` per device (a GPU index or the CPU). Each run executes in its own
process (``python -m engine.training.run``), in its own session so a Ctrl-C at the
terminal reaches the worker, not the run; a CUDA OOM or a segfault kills one run,
not the queue. While the run executes, the slot renews its lease; when the lease
renewal fails the run was cancelled (or taken over) and the process is killed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy import case, func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from engine.runfiles import OOM_EXIT, RunFiles, disk_full
from engine.runner.admission import AUTO_SLOTS_PER_GPU, GpuGate
from engine.runner.devices import default_cpu_slots, usable_cores
from engine.runner.disk_space import run_disk_error, wait_for_space
from engine.runner.exits import failure_text, killed_by, tail, visible_device
from engine.runner.packing import GPU_RUNS_METRIC
from engine.runner.warm import Launcher, LauncherError, WarmRun
from engine.settings import DB_ENV, DEFAULT_LEASE_S, GRAD_ACCUMULATION_ENV, artifacts_root, disk_pause_s, warm_runs
from engine.spec import Outcome, RunStatus, WorkerState
from engine.store import queue
from engine.store.clock import db_now, server_time
from engine.store.results import add_train_scores
from engine.store.schema import Run
from engine.store.schema import Worker as WorkerRow

RUN_PROCESS = "engine.training.run"  # the module a run's subprocess executes (python -m)


@dataclass
class SlotOptions:
    db_url: str
    device: str  # "cpu" or "cuda:N"
    lease_s: float = DEFAULT_LEASE_S
    poll_s: float = 1.0
    exit_when_idle: bool = False
    study_ids: tuple[int, ...] | None = None
    label: str | None = None  # tells slots sharing a device apart ("cpu#2")
    threads: int | None = None  # CPU threads per run (OMP_NUM_THREADS) when slots share the cores
    job_id: str | None = None  # the cluster job this worker runs in (Slurm "1234_0"), shown beside it
    job_index: int | None = None  # its index among the workers submitted together
    warm: bool = field(default_factory=warm_runs)  # fork runs from a launcher that imported torch once
    warm_at_start: bool = True  # start the launcher with the slot; a GPU's extra slots start theirs when first used


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
        self.abort_reason = "worker stopped; run re-queued"
        self.proc: subprocess.Popen | WarmRun | None = None
        self.launcher = Launcher(self._env(), os.getcwd()) if opts.warm else None
        self.runs_done = 0
        self._last_beat: tuple[str, int | None, float] = ("", None, 0.0)  # state, run, time

    def notify(self, message: str) -> None:
        """Tell the worker's terminal or log; a full disk under that log loses the line, never the worker."""
        try:
            self._notify(message)
        except OSError:
            self.unsaid += 1

    # -- bookkeeping in the workers table -------------------------------------------
    def _beat(self, state: WorkerState, run_id: int | None, *, every_s: float = 5.0) -> None:
        """Keep this slot's row in the workers table fresh (at most every ``every_s`` unless it changed).

        A ``stopping`` state set by someone else (the TUI's stop request) is kept, in one
        compare-free UPDATE so a request made between two beats is never overwritten, and
        makes the slot stop claiming: it finishes its current run, then stops.
        """
        now = time.monotonic()  # only paces the beats; what is stored is the server's time
        if (state, run_id) == self._last_beat[:2] and now - self._last_beat[2] < every_s:
            return
        self._last_beat = (state, run_id, now)
        keep = state if state == WorkerState.STOPPED else case(
            (WorkerRow.state == WorkerState.STOPPING, WorkerState.STOPPING), else_=state)
        with Session(self.engine) as session:
            n = session.exec(  # type: ignore[call-overload]
                update(WorkerRow).where(WorkerRow.id == self.worker_id)
                .values(heartbeat_at=server_time(), state=keep, current_run_id=run_id)
            ).rowcount
            if n == 0:
                host, pid, _ = self.worker_id.split(":", 2)
                at = db_now(session)
                session.add(WorkerRow(id=self.worker_id, host=host, pid=int(pid), device=self.opts.device,
                                      started_at=at, heartbeat_at=at, state=state, current_run_id=run_id,
                                      job_id=self.opts.job_id, job_index=self.opts.job_index))
            session.commit()
        if state != WorkerState.STOPPED and self.stop_requested():
            self.request_stop()

    def stop_requested(self) -> bool:
        """Someone asked this slot to stop (its row says ``stopping``)."""
        with Session(self.engine) as session:
            row = session.get(WorkerRow, self.worker_id)
            return row is not None and row.state == WorkerState.STOPPING

    def request_stop(self) -> None:
        """Finish the current run, claim no more."""
        if not self.stop_claiming.is_set():
            self.notify(f"{self.worker_id}: stop requested; finishing the current run, then stopping")
        self.stop_claiming.set()

    def _idle(self) -> bool:
        """Nothing left for this slot: no queued run it may take, none running in its studies."""
        with Session(self.engine) as session:
            q = select(func.count()).select_from(Run).where(Run.status.in_((RunStatus.QUEUED, RunStatus.RUNNING)))
            if self.opts.study_ids is not None:
                q = q.where(Run.study_id.in_(self.opts.study_ids))
            else:
                q = q.where(Run.status == RunStatus.QUEUED)
            return session.exec(q).one() == 0

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
                    if self.opts.exit_when_idle and self._idle():
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

    def _arguments(self, claim: queue.Claim, out_dir: Path, parent: int) -> list[str]:
        """The run process's arguments; ``parent``: the process it stops with (worker or launcher)."""
        return ["--run", str(claim.run_id), "--attempt", str(claim.attempt_id),  # the URL: in its environment
                "--worker", self.worker_id, "--out", str(out_dir), "--parent-pid", str(parent)]

    def _await_launcher(self, claim: queue.Claim) -> None:
        """While the launcher is starting (importing torch), hold the claim: renew its lease."""
        assert self.launcher is not None
        beat_every = max(0.2, self.opts.lease_s / 4)
        next_beat = time.monotonic() + beat_every
        while self.launcher.starting() and not self.abort.is_set():
            time.sleep(0.1)
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + beat_every
                if not queue.renew_lease(self.engine, claim.run_id, self.worker_id, self.opts.lease_s):
                    return  # cancelled meanwhile: the watch loop finds out and stops the run

    def _start(self, claim: queue.Claim, out_dir: Path, log_path: Path, log) -> subprocess.Popen | WarmRun:
        """The run's process: forked by the warm launcher, or a fresh interpreter."""
        if self.launcher is not None:
            self.launcher.start_in_background()  # if it died since the last run
            self._await_launcher(claim)
            if self.launcher.ready():
                try:
                    return self.launcher.launch(self._arguments(claim, out_dir, self.launcher.pid), self._env(claim),
                                                os.getcwd(), str(log_path))
                except (LauncherError, OSError) as exc:  # never lose the run to the launcher: start it cold
                    self.notify(f"{self.worker_id}: warm launcher failed ({exc}); starting the run cold")
                    self.launcher.close()
        return subprocess.Popen([sys.executable, "-m", RUN_PROCESS, *self._arguments(claim, out_dir, os.getpid())],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self._env(claim),
                                start_new_session=True, cwd=os.getcwd())

    def _env(self, claim: queue.Claim | None = None) -> dict[str, str]:
        # the database URL in the environment, not on the command line where `ps` shows its password
        env = dict(os.environ, CUDA_DEVICE_ORDER="PCI_BUS_ID", PYTHONUNBUFFERED="1", **{DB_ENV: self.opts.db_url})
        env["CUDA_VISIBLE_DEVICES"] = visible_device(self.opts.device, os.environ.get("CUDA_VISIBLE_DEVICES"))
        # libgomp's default spin-wait (300k) makes CPU training several times slower as soon
        # as anything else uses a core; too short a spin costs every op a wake-up on a quiet
        # machine. MiniLM, 2 threads on 2 cores, s/step quiet / beside one busy core:
        # 300k 0.59 / ~2.5, 100k 0.58 / 1.86, 30k 0.61 / 1.40, 10k 0.66 / 1.16
        # (OMP_WAIT_POLICY=PASSIVE was 40 % slower quiet). One thread per run: no effect.
        env.setdefault("GOMP_SPINCOUNT", "30000")
        if self.opts.threads:
            env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(self.opts.threads)
        env.pop(GRAD_ACCUMULATION_ENV, None)
        if claim is not None and claim.grad_accumulation > 1:  # after a CUDA out-of-memory: smaller micro-batches
            env[GRAD_ACCUMULATION_ENV] = str(claim.grad_accumulation)
        return env

    def execute(self, claim: queue.Claim) -> Outcome:
        """Run one claimed run to its end; returns the outcome recorded."""
        files = RunFiles.of(artifacts_root(self.opts.db_url), claim.run_id, claim.spec_hash, claim.attempt)
        out_dir, log_path = files.folder, files.log
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            log = open(log_path, "ab")
        except OSError as exc:
            if (full := disk_full(exc, out_dir)) is None:
                raise
            return self._out_of_space(claim, full)
        self._beat(WorkerState.BUSY, claim.run_id)
        queue.set_log_path(self.engine, claim.attempt_id, str(log_path))
        with log:
            self.proc = self._start(claim, out_dir, log_path, log)
            if self.gate is not None:
                self.gate.started(self.worker_id, self.gpu_id, self.proc.pid)
            lost = aborted = False
            beat_every = max(0.2, self.opts.lease_s / 4)
            next_beat = time.monotonic() + beat_every
            while True:
                try:  # short waits: an abort (a preempted job has seconds) is acted on at once
                    rc = self.proc.wait(timeout=min(0.2, beat_every))
                    break
                except subprocess.TimeoutExpired:
                    pass
                if self.abort.is_set():
                    if not aborted:
                        aborted = True
                        self._kill()
                    continue
                if time.monotonic() < next_beat:
                    continue
                next_beat = time.monotonic() + beat_every
                if not queue.renew_lease(self.engine, claim.run_id, self.worker_id, self.opts.lease_s):
                    if self._status(claim.run_id) == RunStatus.SUCCEEDED:
                        continue  # it recorded its results and is exiting: no lease needed, nothing lost
                    lost = True
                    self._kill()
                else:
                    self._beat(WorkerState.BUSY, claim.run_id)
        self.proc = None
        if lost:
            queue.finish(self.engine, claim, self.worker_id, Outcome.FAILED, "run was cancelled or taken over; process stopped")
            return Outcome.LOST
        status = self._status(claim.run_id)
        if status == RunStatus.SUCCEEDED:  # also a process killed after it stored its results: nothing lost
            return Outcome.SUCCEEDED
        if aborted or self.abort.is_set():  # also a run that died of the same signal as its worker (scancel)
            queue.finish(self.engine, claim, self.worker_id, Outcome.REQUEUED, self.abort_reason)
            return Outcome.REQUEUED
        if rc == 0:
            error = "run process exited without recording results"
        else:
            error = failure_text(rc, log_path)
            if (full := run_disk_error(rc, out_dir, tail(log_path))) is not None:
                return self._out_of_space(claim, error if error.startswith(full) else f"{full}\n{error}")
        # killed by a signal nobody here sent (the OOM killer's SIGKILL, a `kill PID`'s SIGTERM) or out of
        # GPU memory with a micro-batch that can still halve: another attempt, up to the run's limit (with
        # twice the gradient accumulation after an OOM); an error of the run's own is final
        oom = rc == OOM_EXIT
        queue.finish(self.engine, claim, self.worker_id, Outcome.FAILED, error,
                     retry=oom or killed_by(rc) is not None, accumulate=oom)
        return Outcome.FAILED

    def _out_of_space(self, claim: queue.Claim, error: str) -> Outcome:
        """The attempt failed for a full disk: the run goes back to the queue (up to its attempt limit),
        and this slot claims nothing until there is space again (engine.runner.disk_space)."""
        queue.finish(self.engine, claim, self.worker_id, Outcome.FAILED, error, retry=True)
        wait_for_space(artifacts_root(self.opts.db_url), disk_pause_s(), self.stop_claiming, self.notify,
                       lambda: self._beat(WorkerState.IDLE, None), f"run {claim.run_id}: {error.splitlines()[0]}")
        return Outcome.FAILED

    def _status(self, run_id: int) -> str | None:
        with Session(self.engine) as session:
            run = session.get(Run, run_id)
            return run.status if run else None

    def _kill(self, grace_s: float = 10.0) -> None:
        """SIGTERM the run's process group, then SIGKILL if it will not go."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def slot_options(db_url: str, devices: list[str], cpu_slots: int | None = None, runs_per_gpu: int | None = 1,
                 **options) -> list[SlotOptions]:
    """``runs_per_gpu`` slots per GPU (None, ``auto``: up to AUTO_SLOTS_PER_GPU, admitted by
    engine.runner.admission); on the CPU, ``cpu_slots`` runs side by side with the cores split
    between them (None: ``default_cpu_slots()``, two on two cores or more).

    Small CPU runs scale poorly across threads and spend seconds starting up, so two
    one-thread runs on two cores finish a study sooner than one two-thread run at a time.
    """
    if cpu_slots is None:
        cpu_slots = default_cpu_slots()
    if devices != ["cpu"] or cpu_slots <= 1:
        per_gpu = AUTO_SLOTS_PER_GPU if runs_per_gpu is None else runs_per_gpu
        return [SlotOptions(db_url, d, label=f"{d}#{i}" if per_gpu > 1 and d != "cpu" else None,
                            warm_at_start=i == 1, **options)
                for d in devices for i in range(1, (per_gpu if d != "cpu" else 1) + 1)]
    threads = max(1, usable_cores() // cpu_slots)
    return [SlotOptions(db_url, "cpu", label=f"cpu#{i}", threads=threads, **options) for i in range(1, cpu_slots + 1)]


def run_slots(engine: Engine, slots: Iterable[Slot]) -> list[threading.Thread]:
    threads = [threading.Thread(target=s.run_forever, name=s.worker_id, daemon=True) for s in slots]
    for t in threads:
        t.start()
    return threads
