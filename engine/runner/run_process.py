"""One run's process, as a worker slot starts, signals, waits for and kills it.

Each run executes in its own process (``python -m engine.training.run``): forked by the
slot's warm launcher (engine.runner.warm) when it is ready, else a fresh interpreter. Either
way it leads its own session and process group, so a Ctrl-C at the terminal reaches the
worker, not the run, and a kill reaches the run with every process it started (data loader
workers, a tokenizer's pool). A launcher that fails means a cold start, never a lost run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import IO, Callable

from engine.runner.warm import Launcher, LauncherError, WarmRun

RUN_PROCESS = "engine.training.run"  # the module a run's process executes (python -m)
# from SIGTERM (the run saves its training state at its next step boundary and ends) to SIGKILL: a step
# plus a save of an XLM-R-base-sized full fine-tuning state (bench/resume.py) with room to spare;
# a Slurm job's USR2 warning (`xltui slurm submit --signal-delay`) must come at least this early
KILL_GRACE_S = 90.0


class RunProcess:
    """A started run process: a ``subprocess.Popen`` (cold) or a ``WarmRun`` (forked by a launcher)."""

    def __init__(self, proc: subprocess.Popen | WarmRun):
        self.proc = proc

    @classmethod
    def start(cls, args: list[str], *, env: dict[str, str], cwd: str, log: IO[bytes], log_path: str,
              launcher: Launcher | None = None, said: Callable[[str], None] = lambda _m: None,
              adapters: bool = False) -> RunProcess:
        """``python -m engine.training.run ARGS --parent-pid P`` with its output appended to the log:
        forked by ``launcher`` when it is ready (P: the launcher), else, or when the launcher fails
        (``said`` tells why), a fresh interpreter (P: this process). The run stops by itself when P
        is gone. ``adapters``: the run needs the adapters library (a launcher imports it once, first)."""
        if launcher is not None and launcher.ready():
            try:
                return cls(launcher.launch([*args, "--parent-pid", str(launcher.pid)], env, cwd, log_path,
                                           adapters=adapters))
            except (LauncherError, OSError) as exc:
                said(f"warm launcher failed ({exc}); starting the run cold")
                launcher.close()
        return cls.cold([sys.executable, "-m", RUN_PROCESS, *args, "--parent-pid", str(os.getpid())],
                        env=env, cwd=cwd, log=log)

    @classmethod
    def cold(cls, argv: list[str], *, env: dict[str, str] | None = None, cwd: str | None = None,
             log: IO[bytes] | int | None = None) -> RunProcess:
        """``argv`` in a new session (its own process group), stdout and stderr to ``log``, no stdin."""
        return cls(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    start_new_session=True, cwd=cwd))

    @property
    def pid(self) -> int:
        """Its pid, which is also its process group's id."""
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        """How it ended (< 0: killed by signal -N), None while it runs."""
        return self.proc.poll()

    def wait(self, timeout: float | None = None) -> int | None:
        """Its exit status once it has ended; None if it still runs after ``timeout`` seconds."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, signum: int) -> bool:
        """Send ``signum`` to its whole process group; False if the group is gone."""
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            return False
        return True

    def kill(self, grace_s: float = KILL_GRACE_S) -> None:
        """SIGTERM its process group; SIGKILL the group if it has not ended after ``grace_s``. Returns
        once it has ended (nothing to do if it already had)."""
        if self.returncode is not None:
            return
        self.signal(signal.SIGTERM)
        if self.wait(grace_s) is None:
            self.signal(signal.SIGKILL)
            self.wait()
