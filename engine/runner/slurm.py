"""Workers on a Slurm cluster, through submitit: a job array of workers that exit when idle.

Slurm only starts, stops and requeues workers; the queue, dedupe and resume stay in the
database. Each array task runs one worker process (``WorkerProcess``) on the GPUs Slurm
gave it. What a signal asks of it is engine.runner.stop's ``CLUSTER_JOB`` policy: on
submitit's preemption / time-limit signal (USR2, sent ``signal_delay_s`` before the end)
``WorkerJob.checkpoint`` stops the running runs and puts them back in the queue at once
(no lease timeout), and submitit requeues the job, which starts a fresh worker.
``scancel`` (SIGTERM) re-queues the runs too, and ends the job. The warning comes
``--signal-delay`` seconds before the limit: the time a run has to save its training state
before the job is killed. A job is requeued after a time limit up to ``--max-requeues``
times (submitit's ``max_num_timeout``; preemptions do not count): the database, not a
counter, says when the work is done. The workers give their runs the submitter's
checkpoint cadence (``--checkpoint-every``, else ``$XLTUI_CHECKPOINT_EVERY``).

``cluster="local"`` is submitit's LocalExecutor: the same job on this machine, for
trying a set-up (and for tests) where there is no Slurm.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from engine.runner.admission import parse_runs_per_gpu
from engine.runner.slot_setup import checkpoint_cadence
from engine.runner.stop import CLUSTER_JOB, StopPolicy
from engine.store.cluster_jobs import SubmittedJob, record_jobs

CLUSTERS = ("slurm", "local")
SIGNAL_DELAY_S = 120  # the warning before the time limit: for the runs to save their state, stop and requeue
MAX_REQUEUES = 100  # time-limit requeues of a job (submitit's default, 3, ends a long run's job early)
_TIME = re.compile(r"^(?:(?P<d>\d+)-)?(?P<a>\d+)(?::(?P<b>\d+))?(?::(?P<c>\d+))?$")


class SubmitError(RuntimeError):
    """A submission that cannot be made (no sbatch, a refused partition, a bad option); nothing was submitted."""


def parse_time(text: str) -> int:
    """A Slurm time limit (``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``) in whole minutes."""
    m = _TIME.match(text.strip())
    if not m:
        raise SubmitError(f"--time {text!r}: expected a Slurm time such as 12:00:00, 90 or 1-12:00")
    d, a, b, c = (int(g) if g is not None else None for g in m.group("d", "a", "b", "c"))
    if d is not None:  # D-HH[:MM[:SS]]
        seconds = d * 86400 + a * 3600 + (b or 0) * 60 + (c or 0)
    elif c is not None:  # HH:MM:SS
        seconds = a * 3600 + b * 60 + c
    elif b is not None:  # MM:SS
        seconds = a * 60 + b
    else:  # MM
        seconds = a * 60
    if seconds <= 0:
        raise SubmitError(f"--time {text!r}: the time limit must be above zero")
    return -(-seconds // 60)


def parse_options(pairs: list[str]) -> dict[str, str]:
    """``--slurm-opt key=value`` pairs as sbatch options (``constraint=a100`` → ``--constraint=a100``)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().lstrip("-")
        if not sep or not key or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", key):
            raise SubmitError(f"--slurm-opt {pair!r}: expected KEY=VALUE, an sbatch option without its dashes "
                              "(e.g. constraint=a100)")
        out[key.replace("_", "-")] = value
    return out


@dataclass(frozen=True)
class SlurmRequest:
    """What `xltui slurm submit` asks for: ``workers`` array tasks, each one worker."""

    workers: int
    partition: str | None = None
    gpus_per_worker: int = 1
    time: str = "12:00:00"
    account: str | None = None
    qos: str | None = None
    cpus_per_worker: int | None = None
    mem: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    study: str | None = None
    lease_s: float = 60.0
    poll_s: float = 5.0
    cluster: str = "slurm"
    runs_per_gpu: str | None = None  # --runs-per-gpu N|auto of each worker (engine.runner.admission)
    checkpoint_every: str | None = None  # --checkpoint-every of each worker (None: $XLTUI_CHECKPOINT_EVERY here)
    max_requeues: int = MAX_REQUEUES  # submitit's max_num_timeout
    signal_delay_s: int = SIGNAL_DELAY_S  # USR2 this long before the time limit

    def cadence(self) -> str | None:
        """The checkpoint cadence the jobs' runs get, fixed at submission (ValueError if it is not one)."""
        return checkpoint_cadence(self.checkpoint_every)

    def check(self) -> dict[str, Any]:
        """The submitit parameters, or SubmitError for what cannot be submitted (before anything is written)."""
        if self.cluster not in CLUSTERS:
            raise SubmitError(f"--cluster {self.cluster!r}: choose {' or '.join(CLUSTERS)}")
        if self.workers < 1:
            raise SubmitError("--workers must be at least 1")
        if parse_runs_per_gpu(self.runs_per_gpu) != 1 and not self.gpus_per_worker:
            raise SubmitError(f"--runs-per-gpu {self.runs_per_gpu}: the workers get no GPU (--gpus-per-worker 0)")
        if self.max_requeues < 0:
            raise SubmitError(f"--max-requeues {self.max_requeues}: give 0 or more")
        try:
            self.cadence()
        except ValueError as exc:
            raise SubmitError(str(exc)) from None
        params = self.parameters()
        if not 0 < self.signal_delay_s < params["timeout_min"] * 60:
            raise SubmitError(f"--signal-delay {self.signal_delay_s}: the warning must come after the job starts, "
                              f"before its time limit (--time {self.time}: {params['timeout_min'] * 60} s)")
        if self.cluster == "slurm" and shutil.which("sbatch") is None:
            raise SubmitError("sbatch is not installed here (not on PATH): run `xltui slurm submit` on a Slurm "
                              "login node, or `--cluster local` to try the workers on this machine")
        return params

    def parameters(self) -> dict[str, Any]:
        """The executor's parameters: on Slurm, AutoExecutor's (generic ones, and ``slurm_``-prefixed ones that
        only Slurm reads); local, LocalExecutor's (the generic ones and its warning's delay)."""
        params: dict[str, Any] = dict(name="xltui-worker", timeout_min=parse_time(self.time), nodes=1,
                                      tasks_per_node=1, stderr_to_stdout=True)
        if self.gpus_per_worker:
            params["gpus_per_node"] = self.gpus_per_worker
        if self.cpus_per_worker:
            params["cpus_per_task"] = self.cpus_per_worker
        if self.cluster == "local":
            return {**params, "signal_delay_s": self.signal_delay_s}
        slurm: dict[str, Any] = dict(partition=self.partition, account=self.account, qos=self.qos, mem=self.mem,
                                     array_parallelism=self.workers, signal_delay_s=self.signal_delay_s,
                                     additional_parameters=dict(self.options) or None)
        params.update({f"slurm_{k}": v for k, v in slurm.items() if v is not None})
        return params

    def executor(self, folder: Path) -> Any:
        """submitit's executor for these jobs, its requeue budget set. The local one is built itself: through
        AutoExecutor its warning's delay cannot be set (submitit 1.5.4 refuses ``local_signal_delay_s``)."""
        import submitit

        if self.cluster == "local":
            return submitit.LocalExecutor(folder=folder, max_num_timeout=self.max_requeues)
        return submitit.AutoExecutor(folder=folder, cluster=self.cluster, slurm_max_num_timeout=self.max_requeues)

    def recorded(self, params: dict[str, Any]) -> dict[str, Any]:
        """What the database keeps of a submission (ClusterJob.options): the executor's parameters, its
        requeue budget and what the workers give their runs."""
        return {**params, "max_num_timeout": self.max_requeues, "checkpoint_every": self.cadence()}


class WorkerJob:
    """What each array task runs (pickled by submitit): one worker until the queue is empty.

    The database URL travels in submitit's job folder (kept private to the user, mode 0700).
    """

    def __init__(self, url: str, *, gpus: int, study: str | None, lease_s: float, poll_s: float, index: int,
                 runs_per_gpu: str | None = None, checkpoint_every: str | None = None):
        self.url, self.gpus, self.study, self.runs_per_gpu = url, gpus, study, runs_per_gpu
        self.lease_s, self.poll_s, self.index = lease_s, poll_s, index
        self.checkpoint_every = checkpoint_every  # $XLTUI_CHECKPOINT_EVERY of its runs (None: the job's own)
        self._proc: Any = None
        self._stops: StopPolicy | None = None

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("_proc", "_stops")}

    def __setstate__(self, state: dict) -> None:
        # a job pickled by an older xltui (requeued across an upgrade) has no cadence: its runs keep the job's own
        self.__dict__.update({"checkpoint_every": None, **state}, _proc=None, _stops=None)

    def __call__(self) -> int:
        import submitit

        from engine.runner.worker import WorkerProcess

        env = submitit.JobEnvironment()
        devices = [f"cuda:{i}" for i in range(self.gpus)] or ["cpu"]
        self._proc = WorkerProcess(self.url, devices, study=self.study, notify=lambda m: print(m, flush=True),
                                   lease_s=self.lease_s, poll_s=self.poll_s, exit_when_idle=True,
                                   job_id=str(env.job_id), job_index=self.index,
                                   runs_per_gpu=parse_runs_per_gpu(self.runs_per_gpu) if self.gpus else 1,
                                   checkpoint_every=self.checkpoint_every)
        for warning in self._proc.warnings:
            print(f"warning: {warning}", flush=True)
        self._stops = StopPolicy(CLUSTER_JOB, [self._proc], say=lambda m: print(m, flush=True))
        # scancel's SIGTERM (submitit only logs it) is ours; USR2 stays submitit's, whose handler calls checkpoint
        self._stops.install([signal.SIGTERM])
        print(f"worker {env.job_id} (task {self.index}) on {env.hostname}: {', '.join(devices)}", flush=True)
        self._proc.start()
        return self._proc.wait()

    def checkpoint(self) -> Any:
        """submitit's preemption / time-limit hook: re-queue the runs at once, then let the job be requeued."""
        import submitit

        if self._proc is not None and self._stops is not None:
            self._stops.handle(signal.SIGUSR2)  # PREEMPTED: the runs go back to the queue now
            self._proc.wait()
        again = copy.copy(self)  # every option, through __getstate__: none is left behind by the requeue
        return submitit.helpers.DelayedSubmission(again)


@contextmanager
def _stdio_quiet() -> Iterator[None]:
    """fds 1 and 2 point at /dev/null while jobs are submitted. sbatch's refusal would be
    printed beside our one-line error (its words are in the exception); and submitit's local
    controller outlives this command and would inherit our stdout: a shell pipe, or a caller
    reading our output to its end, would wait for the whole job. Job logs go to its folder."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def _sbatch_reason(exc: BaseException) -> str:
    """sbatch's own words for why it refused the job ("invalid partition specified: gpu")."""
    lines = [ln.strip() for ln in str(exc).splitlines() if "error" in ln.lower()]
    found = next((ln for ln in lines if ln.lower().startswith("sbatch: error")), lines[0] if lines else str(exc))
    reason = " ".join(re.sub(r"^sbatch: error:\s*", "", found, flags=re.I).split())[:300]
    if "gres" in reason.lower():
        reason += " (no GPUs configured on that partition? --gpus-per-worker 0 asks for none)"
    return reason


def submit(engine: Engine, url: str, request: SlurmRequest, folder: Path) -> list[SubmittedJob]:
    """Submit the worker array; record the jobs only once the cluster accepted them."""
    params = request.check()
    cadence = request.cadence()
    import submitit

    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)  # the pickled job holds the database URL
    executor = request.executor(folder / "%j")
    try:
        executor.update_parameters(**params)
    except ValueError as exc:
        raise SubmitError(f"submitit refused the parameters: {' '.join(str(exc).split())[:300]}") from None
    jobs: list[Any] = []
    try:
        with _stdio_quiet(), executor.batch():
            for i in range(request.workers):
                jobs.append(executor.submit(WorkerJob(url, gpus=request.gpus_per_worker, study=request.study,
                                                      lease_s=request.lease_s, poll_s=request.poll_s, index=i,
                                                      runs_per_gpu=request.runs_per_gpu, checkpoint_every=cadence)))
    except (subprocess.CalledProcessError, submitit.core.utils.FailedJobError, OSError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise SubmitError(f"sbatch refused the job: {_sbatch_reason(exc)}") from None
    submitted = [SubmittedJob(str(j.job_id), str(j.job_id).split("_")[0], i) for i, j in enumerate(jobs)]
    record_jobs(engine, submitted, cluster=request.cluster, folder=str(folder), partition=request.partition,
                options=request.recorded(params))
    return submitted


def _alive(pid: str) -> bool:
    """A local job's controller is running (an exited one may linger as a zombie nobody reaped)."""
    import psutil

    try:
        return pid.isdigit() and psutil.Process(int(pid)).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def job_states(job_ids: list[str], cluster: str) -> dict[str, str]:
    """The cluster's word for each job now: Slurm's squeue state (with its reason), or the
    local job's process; a job the cluster no longer lists is ``ENDED``."""
    if not job_ids:
        return {}
    if cluster == "local":
        return {j: "RUNNING" if _alive(j) else "ENDED" for j in job_ids}
    states = dict.fromkeys(job_ids, "ENDED")
    if shutil.which("squeue") is None:
        return dict.fromkeys(job_ids, "UNKNOWN (no squeue here)")
    arrays = sorted({j.split("_")[0] for j in job_ids})
    proc = subprocess.run(["squeue", "-h", "-r", "-o", "%i|%T|%r", "-j", ",".join(arrays)],
                          capture_output=True, text=True, timeout=60)
    for line in proc.stdout.splitlines():
        job, _, rest = line.partition("|")
        state, _, reason = rest.partition("|")
        if job in states:
            states[job] = state if reason in ("", "None") else f"{state} ({reason})"
    return states


def cancel(jobs: list[tuple[str, str]]) -> None:
    """Cancel (job id, cluster) pairs. Their workers re-queue their runs as they stop."""
    slurm = [j for j, c in jobs if c == "slurm"]
    if slurm:
        if shutil.which("scancel") is None:
            raise SubmitError("scancel is not installed here (not on PATH): cancel from a Slurm login node")
        proc = subprocess.run(["scancel", *slurm], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise SubmitError(f"scancel failed: {' '.join(proc.stderr.split())[:300]}")
    for job_id, cluster in jobs:
        if cluster == "local" and job_id.isdigit():
            import psutil

            try:  # submitit's local controller forwards SIGTERM to its task, our worker
                psutil.Process(int(job_id)).send_signal(signal.SIGTERM)
            except psutil.NoSuchProcess:
                continue
