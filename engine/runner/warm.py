"""The worker's side of the warm launcher (engine.training.launcher): start it, ask it to
fork a run, and watch that run as the slot watches a subprocess.

The launcher is named, never imported (``python -m engine.training.launcher``), so the
worker itself still starts without torch. One launcher per slot (a slot runs one run
at a time), in its own session (a Ctrl-C at the terminal is the worker's to handle).
It is started in the background when the slot starts, and again by the next run when it
has died; a run claimed meanwhile waits for it with its lease renewed (its imports take
longer than a lease). A launcher that cannot start means a cold start, never a lost run.

Where ``$XLTUI_WARM_SERVER`` names a warm server's socket (engine.training.warm_server), the
launcher is forked from that server, which imported everything once for every worker on the
machine; a server that is gone or refuses (another environment) means a launcher of the
slot's own, as without it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import BinaryIO, Callable

from engine.settings import WARM_SERVER_ENV

LAUNCHER_PROCESS = "engine.training.launcher"
READY_TIMEOUT_S = 600.0  # importing torch and transformers on a loaded machine


class LauncherError(RuntimeError):
    """The launcher could not be started or stopped answering."""


class Launcher:
    """One warm launcher process and the run it has forked, if any."""

    def __init__(self, env: dict[str, str], cwd: str, said: Callable[[str], None] = lambda _m: None):
        self.env, self.cwd, self.said = env, cwd, said
        self.proc: subprocess.Popen | ServedProcess | None = None
        self._buffer = b""
        self._ready = threading.Event()
        self._starting: threading.Thread | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        """Ready for a run now (started, imports done, not being restarted)."""
        return self._ready.is_set() and self.alive()

    def starting(self) -> bool:
        """Being started now (importing torch)."""
        return self._starting is not None and self._starting.is_alive()

    def wait_started(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a start under way to end; True once none is (ready or failed)."""
        starting = self._starting
        if starting is not None:
            starting.join(timeout)
        return not self.starting()

    def start_in_background(self) -> None:
        """(Re)start it unless it is ready or starting: the caller does not wait for its imports."""
        if self.ready() or self.starting():
            return
        self._ready.clear()
        self._starting = threading.Thread(target=self._start_quietly, daemon=True, name="warm-launcher")
        self._starting.start()

    def _start_quietly(self) -> None:
        try:
            self.ensure()
        except (LauncherError, OSError):  # runs start cold; the next start_in_background tries again
            self.close()

    def ensure(self) -> None:
        """Running and ready (its imports done), starting it if needed."""
        if self.alive() and self._ready.is_set():
            return
        self.close()
        self._buffer = b""
        if server := self.env.get(WARM_SERVER_ENV):
            try:
                self.proc = ServedProcess.fork(server, self.env, self.cwd)
            except (LauncherError, OSError, ValueError) as exc:
                self.said(f"warm server {server}: {exc}; starting a launcher of this slot's own")
        if self.proc is None:
            self.proc = subprocess.Popen([sys.executable, "-m", LAUNCHER_PROCESS], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, env=self.env, cwd=self.cwd, start_new_session=True)
        message = self.read(READY_TIMEOUT_S)
        if message != {"ready": True}:
            self.close()
            raise LauncherError(f"the warm launcher did not start (it said {message!r})")
        self._ready.set()

    def launch(self, argv: list[str], env: dict[str, str], cwd: str, log: str, adapters: bool = False) -> WarmRun:
        """Fork a run (the launcher must be ready): ``argv`` are ``python -m engine.training.run``'s;
        ``adapters``: the run needs the adapters library, which the launcher imports on first need."""
        if not self.ready():
            raise LauncherError("the warm launcher is not ready")
        assert self.proc is not None and self.proc.stdin is not None
        request = json.dumps({"argv": argv, "env": env, "cwd": cwd, "log": log, "adapters": adapters}) + "\n"
        self.proc.stdin.write(request.encode())
        self.proc.stdin.flush()
        message = self.read(60.0)
        if not message or "pid" not in message:
            raise LauncherError(f"the warm launcher did not fork the run (it said {message!r})")
        return WarmRun(self, int(message["pid"]))

    def read(self, timeout: float | None) -> dict | None:
        """The launcher's next message; None on timeout; {} when it has gone away."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return {}
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def close(self) -> None:
        """Stop the launcher (closing its stdin ends it; a stuck one is killed)."""
        proc, self.proc = self.proc, None
        self._ready.clear()
        if proc is None or proc.poll() is not None:
            return
        try:
            proc.stdin.close()  # type: ignore[union-attr]
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()


class WarmRun:
    """A forked run, with the part of ``subprocess.Popen`` the slot uses: pid, poll, wait."""

    def __init__(self, launcher: Launcher, pid: int):
        self.launcher, self.pid = launcher, pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self._collect(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._collect(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"run process {self.pid}", timeout or 0.0)
        return self.returncode

    def _collect(self, timeout: float | None) -> None:
        message = self.launcher.read(timeout)
        if message is None:
            return
        if "exit" in message:
            self.returncode = int(message["exit"])
            return
        # the launcher died under the run (its parent gone, the run stops by itself): as if killed
        self.launcher.close()
        self.returncode = -signal.SIGKILL


class ServedProcess:
    """A launcher a warm server forked for this worker, with the part of ``subprocess.Popen`` the
    launcher uses. Not our child: watched through a pidfd (its exit status is the server's to reap)."""

    def __init__(self, pid: int, pidfd: int, stdin: BinaryIO, stdout: BinaryIO):
        self.pid, self.stdin, self.stdout = pid, stdin, stdout
        self._pidfd: int | None = pidfd
        self.returncode: int | None = None

    @classmethod
    def fork(cls, server: str, env: dict[str, str], cwd: str) -> ServedProcess:
        """Ask the server at socket path ``server`` for a launcher with ``env`` in ``cwd``."""
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        theirs, ours = (stdin_r, stdout_w), (stdin_w, stdout_r)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(60.0)
                conn.connect(server)
                request = json.dumps({"env": env, "cwd": cwd}).encode() + b"\n"
                socket.send_fds(conn, [request], [stdin_r, stdout_w, 2])  # its stderr: ours, as a child's would be
                answer = b""
                while not answer.endswith(b"\n"):
                    chunk = conn.recv(4096)
                    if not chunk:
                        raise LauncherError("the server closed the connection without an answer")
                    answer += chunk
            reply = json.loads(answer)
            if "pid" not in reply:
                raise LauncherError(f"refused: {reply.get('refused', reply)}")
            pidfd = os.pidfd_open(int(reply["pid"]))  # at once: a launcher that already died fails here
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        return cls(int(reply["pid"]), pidfd, os.fdopen(stdin_w, "wb"), os.fdopen(stdout_r, "rb"))

    def poll(self) -> int | None:
        if self.returncode is None and self._pidfd is not None and select.select([self._pidfd], [], [], 0)[0]:
            self._ended()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and self._pidfd is not None:
            if not select.select([self._pidfd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(f"warm launcher {self.pid}", timeout or 0.0)
            self._ended()
        return self.returncode or 0

    def kill(self) -> None:
        if self.returncode is None and self._pidfd is not None:
            signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)

    def _ended(self) -> None:
        self.returncode = 0  # its status went to the server
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
