"""Start a worker that outlives the terminal (SSH link drops, app closes)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from engine.runfiles import worker_logs
from engine.settings import DB_ENV, artifacts_root


def start_detached_worker(url: str, devices: list[str], lease_s: float, *,
                          exit_when_idle: bool = True, cpu_slots: int | None = None, warm: bool = True,
                          runs_per_gpu: str | None = None, checkpoint_every: str | None = None) -> tuple[int, Path]:
    """`xltui worker … [--exit-when-idle]` in a new session, output to a log file. Without
    ``checkpoint_every`` its runs' cadence is $XLTUI_CHECKPOINT_EVERY here, which it inherits.

    The database URL goes in the worker's environment ($XLTUI_DB), not on its command line,
    where anyone on the machine could read a password in it (``ps``, /proc/PID/cmdline)."""
    log_dir = worker_logs(artifacts_root(url))
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"worker-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    device_args = (["--cpu", *(["--cpu-slots", str(cpu_slots)] if cpu_slots else [])] if devices == ["cpu"]
                   else ["--gpus", ",".join(d.split(":")[1] for d in devices),
                         *(["--runs-per-gpu", runs_per_gpu] if runs_per_gpu else [])])
    cmd = [sys.executable, "-m", "xltui.cli", "worker", *device_args,
           *(["--exit-when-idle"] if exit_when_idle else []), "--lease", str(lease_s),
           "--warm" if warm else "--no-warm",
           *(["--checkpoint-every", checkpoint_every] if checkpoint_every is not None else [])]
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=os.getcwd(), env={**os.environ, DB_ENV: url})
    return proc.pid, log
