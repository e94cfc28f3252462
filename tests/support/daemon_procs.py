"""Processes of the test daemons (Slurm's here): run a command, find, wait for and stop a
process, read the useful end of a daemon's log. Plain functions, no Slurm knowledge.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def run_cmd(*cmd: str, timeout: float = 20) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(cmd, 124, exc.stdout or "", f"{cmd[0]}: no answer in {timeout:g} s")
    except FileNotFoundError:
        return subprocess.CompletedProcess(cmd, 127, "", f"{cmd[0]}: not installed")


def alive(pid: int | None, name: str | None = None) -> bool:
    """The process runs (not a zombie: PID 1 here reaps slowly) and, if given, is ``name``."""
    if not pid:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    comm, state = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:][:1]
    return state not in ("Z", "X") and (name is None or comm.startswith(name[:15]))


def pid_from(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# what slurmctld/slurmd always log here and is not why they stopped
BENIGN = ("pmix", "MPI: Cannot create context", "state file", "Trying backup state", "MailProg")


def log_tail(path: Path | None, text: str = "", lines: int = 6) -> str:
    """The daemon's own words: its last error lines (or last lines) from its log, and ``text``."""
    body = text
    if path is not None:
        try:
            body = path.read_text(errors="replace") + "\n" + text
        except OSError:
            pass
    rows = [r.strip() for r in body.splitlines() if r.strip()]
    errors = [r for r in rows if ("error" in r.lower() or "fatal" in r.lower()) and not any(b in r for b in BENIGN)]
    return "\n".join((errors or rows)[-lines:]) or "(no output)"


def fatal_in(path: Path) -> bool:
    try:
        return "fatal:" in path.read_text(errors="replace")
    except OSError:
        return False


def wait_gone(pids: list[tuple[int, str]], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(alive(p, n) for p, n in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def kill(pid: int, name: str, grace_s: float = 5) -> None:
    if not alive(pid, name):
        return
    try:
        os.kill(pid, signal.SIGTERM)
        if not wait_gone([(pid, name)], grace_s):
            os.kill(pid, signal.SIGKILL)
            wait_gone([(pid, name)], 5)
    except ProcessLookupError:
        pass


def stepds_of(folder: Path) -> list[int]:
    """slurmstepd processes of the cluster started in ``folder`` (their cwd, or their log, is there).

    They outlive ``scontrol shutdown`` when a job is still ending, and are PID 1's children."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or not alive(int(proc.name), "slurmstepd"):
            continue
        try:
            paths = [os.readlink(proc / "cwd")] + [os.readlink(fd) for fd in (proc / "fd").iterdir()]
        except OSError:
            continue
        if any(p.startswith(str(folder)) for p in paths):
            found.append(int(proc.name))
    return found
