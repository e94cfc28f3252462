"""Entry point of one run's subprocess: ``python -m engine.training.run --db URL --run N …``
(without ``--db``: ``$XLTUI_DB``, which keeps a password off the command line).

It loads the stored spec, trains and evaluates, streams metrics and system samples
to the database, and records results together with the ``succeeded`` status. It
exits if its worker dies, so a killed worker never leaves an orphan on the GPU.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import traceback
from dataclasses import replace
from pathlib import Path

from sqlmodel import Session

from engine.runfiles import DISK_FULL_EXIT, ERROR_PREFIX, OOM_EXIT, ORPHAN_EXIT, RunFiles, disk_full
from engine.settings import DB_ENV, checkpoint_every, grad_accumulation, keep_state, scrub
from engine.spec import LangAdapterSpec, RunSpec, StopAction, parse_spec
from engine.store.db import make_engine, safe_url
from engine.store.queries import artifact_host, dependency_artifacts
from engine.store.results import RunOutput, record_output
from engine.store.resumes import record_resume, record_save
from engine.store.schema import Run
from engine.store.telemetry import MetricWriter, SystemSampler
from engine.training import interrupt
from engine.training.inputs import PARENT_ARTIFACT, RunInputs
from engine.training.resume import StateStore
from engine.training.throughput import cuda_memory
from engine.training.trainers import trainer_for

ORPHAN_SAVE_S = 120.0  # how long a run whose worker is gone may take to save its state before it exits


def _exit_with_parent(parent: int, interval_s: float = 1.0) -> None:
    """Exit when the worker that started us is gone (its pid is passed in: the worker may
    already be dead by the time this process gets here): the stop policy's SAVE — a training
    loop saves its state at its next step boundary and ends the run; at most ``ORPHAN_SAVE_S``."""

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                print("worker process is gone; stopping this run", file=sys.stderr, flush=True)
                if interrupt.request("its worker is gone", ORPHAN_EXIT):
                    threading.Event().wait(ORPHAN_SAVE_S)  # the main thread saves and exits meanwhile
                os._exit(ORPHAN_EXIT)
            threading.Event().wait(interval_s)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _terminate(signum, _frame) -> None:
    """SIGTERM: inside a training loop the loop saves its state at its next step boundary and ends
    the run (engine.training.interrupt); anywhere else the run ends now (nothing to save)."""
    if not interrupt.request(f"{signal.Signals(signum).name} received", 128 + signum):
        raise SystemExit(128 + signum)


# a run process's side of the stop policy (the worker's, and the whole table: engine.runner.stop)
STOPS = {
    signal.SIGTERM: StopAction.SAVE,  # its worker stops it (a re-queue, an abort, a lost lease), or a kill from outside
    # a cluster's preemption warning (Slurm sends it to every process of the job) is for the
    # worker: it stops this run (SIGTERM: saved) and re-queues it; the run itself must not die of it first
    signal.SIGUSR2: StopAction.IGNORE,
}


def _stop_on_signals() -> None:
    for signum, action in STOPS.items():
        signal.signal(signum, _terminate if action == StopAction.SAVE else signal.SIG_IGN)


def state_store(spec: RunSpec | LangAdapterSpec, files: RunFiles, engine, run_id: int, attempt_id: int,
                owner: str) -> StateStore:
    """The run's saved training states (engine.training.resume), at the worker's cadence, owned by this
    database's run; a loop that resumes from one, or saves one, records it with this attempt."""
    cadence = checkpoint_every()
    print(f"training state saved {cadence} and when stopped", flush=True)  # the worker's --checkpoint-every
    store = StateStore(files.state(owner), spec.spec_hash(), cadence, owner=owner)

    def resumed(step: int) -> None:
        redone = record_resume(engine, run_id, attempt_id, step)
        if step > 0:
            print(f"attempt {attempt_id}: resumed at step {step}; {redone} step(s) the previous attempt did after "
                  f"its last saved state are done again", flush=True)

    store.on_resume = resumed
    store.on_save.append(lambda step: record_save(engine, attempt_id, step))
    return store


def device_name() -> str:
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def inputs_of(spec: RunSpec | LangAdapterSpec, engine, run_id: int) -> RunInputs:
    """The artifacts of the runs this one depends on: language adapters, and a few-shot run's parent."""
    adapters = dependency_artifacts(engine, run_id, "lang_adapter")
    if spec.trainer != "few-shot":
        return RunInputs(adapters)
    return RunInputs(adapters, dependency_artifacts(engine, run_id, PARENT_ARTIFACT[spec.method]).get(None))


def unreadable_input(inputs: RunInputs, engine) -> str | None:
    """Why this machine cannot start the run, if an input artifact is not readable here.

    On a cluster the run that made a checkpoint or adapter may have run on another host;
    a path that is not on a filesystem both reach fails the run now, naming the path and
    the host that wrote it, instead of after an hour of loading and training.
    """
    for path in [*inputs.lang_adapters.values(), *([inputs.parent] if inputs.parent else [])]:
        if os.access(path, os.R_OK):
            continue
        origin = artifact_host(engine, path)
        wrote = f"written by run {origin[0]} on host {origin[1]}" if origin else "written by an earlier run"
        return (f"input {path} ({wrote}) is not readable on host {socket.gethostname()}: put the artifacts "
                f"(XLTUI_ARTIFACTS) on a filesystem every worker reaches")
    return None


def execute(spec: RunSpec | LangAdapterSpec, files: RunFiles, writer: MetricWriter, device: str,
            inputs: RunInputs) -> RunOutput:
    """Run the spec's trainer (from the table in engine.training.trainers) on its inputs."""
    return trainer_for(spec)(spec, files, writer, device, inputs)


def out_of_memory(exc: BaseException, spec: RunSpec | LangAdapterSpec, db: str) -> int:
    """A CUDA out-of-memory: OOM_EXIT while the micro-batch can still halve (the worker then re-queues
    the run with twice the gradient accumulation), else a plain failure that says so."""
    accumulation = grad_accumulation()
    batch = spec.train.batch_size if isinstance(spec, RunSpec) else None
    micro = None if batch is None else -(-batch // accumulation)
    print(scrub(traceback.format_exc(), db), end="", file=sys.stderr)
    if micro is not None and micro > 1:
        print(f"{ERROR_PREFIX}CUDA out of memory at micro-batch {micro} (batch {batch} in {accumulation}); "
              f"next attempt: micro-batch {-(-batch // (2 * accumulation))}, accumulation {2 * accumulation}",
              file=sys.stderr)
        return OOM_EXIT
    where = f"micro-batch {micro} (batch {batch} in {accumulation})" if micro is not None else "this run"
    print(f"{ERROR_PREFIX}CUDA out of memory even at {where}: {' '.join(str(exc).split())[:200]}; "
          "lower train.max_length or use a GPU with more memory", file=sys.stderr)
    return 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m engine.training.run")
    parser.add_argument("--db", default=os.environ.get(DB_ENV), required=not os.environ.get(DB_ENV),
                        help=f"the database URL (default: ${DB_ENV})")
    parser.add_argument("--run", type=int, required=True)
    parser.add_argument("--attempt", type=int, required=True)
    parser.add_argument("--worker", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process is gone")
    return parser.parse_args(argv)


def run_attempt(args: argparse.Namespace) -> int:
    _exit_with_parent(args.parent_pid or os.getppid())
    _stop_on_signals()
    interrupt.set_worker(args.worker)

    engine = make_engine(args.db, max_connections=1, name=f"xltui run {args.run}")  # one at a time, see make_engine
    with Session(engine) as session:
        run = session.get(Run, args.run)
        if run is None:
            print(f"run {args.run} is not in {safe_url(args.db)}", file=sys.stderr)
            return 2
        spec = parse_spec(run.spec_json)
        owner = f"run {run.id} queued at {run.created_at!r}"  # which database's run a saved state is of
    print(f"run {args.run} attempt {args.attempt}: {spec.canonical_json()}", flush=True)
    inputs = inputs_of(spec, engine, args.run)
    problem = unreadable_input(inputs, engine)
    if problem is not None:  # before torch is imported: seconds, not minutes
        print(f"{ERROR_PREFIX}{problem}", file=sys.stderr)
        return 1

    device = device_name()
    import torch

    from engine.training import cpu_threads

    writer = MetricWriter(engine, args.run, args.attempt)
    threads = cpu_threads.start(engine, args.run, args.worker, writer, device)  # a CPU run: its share of the cores
    print(f"device {device}, torch threads {threads}", flush=True)
    sampler = SystemSampler(writer, device, gpu_memory=cuda_memory)
    sampler.start()
    files = RunFiles(Path(args.out))
    store = state_store(spec, files, engine, args.run, args.attempt, owner)
    try:
        output = execute(spec, files, writer, device, replace(inputs, state=store))
    except interrupt.Interrupted as stop:  # asked to stop: its state is saved, the next attempt continues from it
        return stop.exit_code
    except Exception as exc:  # report it in one line the worker can quote, after the traceback
        if isinstance(exc, torch.cuda.OutOfMemoryError):
            return out_of_memory(exc, spec, args.db)
        full = disk_full(exc, Path(args.out))
        try:
            print(scrub(traceback.format_exc(), args.db), end="", file=sys.stderr)
            print(f"{ERROR_PREFIX}{full or exc.__class__.__name__ + ': ' + scrub(' '.join(str(exc).split()), args.db)}"[:450],
                  file=sys.stderr)
        except OSError as unwritten:  # the log is on a full disk: the worker learns it from the exit status
            full = full or disk_full(unwritten, Path(args.out))
        return DISK_FULL_EXIT if full else 1
    finally:
        cpu_threads.stop()
        sampler.stop()
        writer.close()
    if not record_output(engine, args.run, args.attempt, args.worker, output):
        print("results not stored: this attempt no longer holds the run (cancelled after it finished keeps "
              "them; re-queued or taken over does not)", file=sys.stderr)
    elif not keep_state():  # stored: its saved state has served (XLTUI_KEEP_STATE=1 keeps it)
        store.clear()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``run`` with a full disk under ``--out`` (the log cannot even be written) told to the worker by
    its exit status, DISK_FULL_EXIT."""
    args = parse_args(argv)
    try:
        return run_attempt(args)
    except OSError as exc:
        if disk_full(exc, Path(args.out)) is None:
            raise
        return DISK_FULL_EXIT


if __name__ == "__main__":
    sys.exit(main())
