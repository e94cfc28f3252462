"""How a run process ended, in words a user can act on, and which GPU it may see.

Kept apart from the slot loop (engine.runner.slot): pure functions of an exit status, a
log file and the environment.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from engine.runfiles import last_error

STDERR_TAIL_CHARS = 4000
TERM_EXIT = 128 + signal.SIGTERM  # a run process's exit status after a SIGTERM (its handler exits cleanly)


def visible_device(device: str, visible: str | None) -> str:
    """CUDA_VISIBLE_DEVICES for a run on ``device`` ("cuda:N" or "cpu").

    N counts the GPUs this worker may use: where the worker was itself given a subset
    (Slurm sets CUDA_VISIBLE_DEVICES=2,5 for a job's two GPUs), cuda:1 is that subset's
    second GPU, "5", not the machine's GPU 1, which belongs to another job.
    """
    if not device.startswith("cuda:"):
        return ""
    index = int(device.split(":")[1])
    ids = [v.strip() for v in (visible or "").split(",") if v.strip()]
    if not ids or ids == ["-1"]:
        return str(index)
    if index >= len(ids):
        raise ValueError(f"{device}: this worker may use {len(ids)} GPU(s) (CUDA_VISIBLE_DEVICES={visible})")
    return ids[index]


def tail(path: Path, chars: int = STDERR_TAIL_CHARS) -> str:
    """The end of a run's log: what a user needs to see why it failed."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - chars))
            return fh.read().decode("utf-8", "replace").strip()
    except FileNotFoundError:
        return "(no log was written)"


def killed_by(rc: int) -> str | None:
    """The signal that ended a run process with exit status ``rc``, by name; None if none did.

    A negative status is the signal itself (as ``subprocess`` and the warm launcher report
    it). A SIGTERM is caught by the run process, which flushes its metrics and exits with
    ``TERM_EXIT`` (engine.training.run): still a kill, not an error of the run's own.
    """
    if rc < 0:
        try:
            return signal.Signals(-rc).name
        except ValueError:  # a real-time signal has no name
            return f"signal {-rc}"
    return signal.SIGTERM.name if rc == TERM_EXIT else None


def describe_exit(rc: int) -> str:
    name = killed_by(rc)
    if name is None:
        return f"run process exited with status {rc}"
    hint = " (killed from outside: out of memory?)" if rc == -signal.SIGKILL else ""
    status = f" (exit status {rc})" if rc > 0 else ""
    return f"run process was killed by {name}{hint}{status}"


def failure_text(rc: int, log_path: Path) -> str:
    """The run's own one-line error first (what went wrong), then the log's tail (where)."""
    end = tail(log_path)
    summary = last_error(end)
    head = f"{summary} ({describe_exit(rc)})" if summary else describe_exit(rc)
    return f"{head}\nlog: {log_path}\n{end}"
