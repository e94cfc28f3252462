"""Entry point of one run's subprocess: ``python -m engine.training.run --db URL --run N …``.

It loads the stored spec, trains and evaluates, streams metrics and system samples
to the database, and records results together with the ``succeeded`` status. It
exits if its worker dies, so a killed worker never leaves an orphan on the GPU.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

from sqlmodel import Session

from engine.runfiles import ERROR_PREFIX, RunFiles
from engine.spec import LangAdapterSpec, RunSpec, parse_spec
from engine.store.db import make_engine
from engine.store.queries import dependency_artifacts
from engine.store.results import RunOutput, record_output
from engine.store.schema import Run
from engine.store.telemetry import MetricWriter, SystemSampler
from engine.training.inputs import PARENT_ARTIFACT, RunInputs
from engine.training.trainers import trainer_for


def _exit_with_parent(parent: int, interval_s: float = 1.0) -> None:
    """Exit when the worker that started us is gone (its pid is passed in: the worker may
    already be dead by the time this process gets here)."""

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                print("worker process is gone; stopping this run", file=sys.stderr, flush=True)
                os._exit(3)
            threading.Event().wait(interval_s)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _terminate(signum, _frame) -> None:
    raise SystemExit(128 + signum)


def device_name() -> str:
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def inputs_of(spec: RunSpec | LangAdapterSpec, engine, run_id: int) -> RunInputs:
    """The artifacts of the runs this one depends on: language adapters, and a few-shot run's parent."""
    adapters = dependency_artifacts(engine, run_id, "lang_adapter")
    if spec.trainer != "few-shot":
        return RunInputs(adapters)
    return RunInputs(adapters, dependency_artifacts(engine, run_id, PARENT_ARTIFACT[spec.method]).get(None))


def execute(spec: RunSpec | LangAdapterSpec, files: RunFiles, writer: MetricWriter, device: str,
            engine, run_id: int) -> RunOutput:
    """Run the spec's trainer (from the table in engine.training.trainers) on its inputs."""
    return trainer_for(spec)(spec, files, writer, device, inputs_of(spec, engine, run_id))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.training.run")
    parser.add_argument("--db", required=True)
    parser.add_argument("--run", type=int, required=True)
    parser.add_argument("--attempt", type=int, required=True)
    parser.add_argument("--worker", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process is gone")
    args = parser.parse_args(argv)
    _exit_with_parent(args.parent_pid or os.getppid())
    signal.signal(signal.SIGTERM, _terminate)

    engine = make_engine(args.db)
    with Session(engine) as session:
        run = session.get(Run, args.run)
        if run is None:
            print(f"run {args.run} is not in {args.db}", file=sys.stderr)
            return 2
        spec = parse_spec(run.spec_json)
    print(f"run {args.run} attempt {args.attempt}: {spec.canonical_json()}", flush=True)

    device = device_name()
    import torch

    print(f"device {device}, torch threads {torch.get_num_threads()}", flush=True)
    writer = MetricWriter(engine, args.run, args.attempt)
    sampler = SystemSampler(writer, device)
    sampler.start()
    try:
        output = execute(spec, RunFiles(Path(args.out)), writer, device, engine, args.run)
    except Exception as exc:  # report it in one line the worker can quote, after the traceback
        traceback.print_exc()
        print(f"{ERROR_PREFIX}{exc.__class__.__name__}: {' '.join(str(exc).split())[:400]}", file=sys.stderr)
        return 1
    finally:
        sampler.stop()
        writer.close()
    if not record_output(engine, args.run, args.attempt, args.worker, output):
        print("results stored, but the run is no longer this worker's (cancelled?)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
