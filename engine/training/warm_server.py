"""A warm server: one process that has imported what every run needs, once, and forks the warm
launchers of the workers on its machine (engine.training.launcher) from there.

A launcher started by its worker spends ~6 CPU-s importing torch, transformers and seqeval
before its first run: once per worker slot. Where many workers start on one machine (a lab's
box shared by a queue of short studies, the test suite's 100 workers), a slot whose
``$XLTUI_WARM_SERVER`` names this server's socket gets its launcher forked from here in
milliseconds instead. The forked launcher is the same launcher: its own session, its stdin,
stdout and stderr the worker's pipes (passed over the socket), the worker's environment and
folder; it ends when its worker does. Only its parent differs (this server, not the worker).

What an import reads from the environment stays as this server read it, so a launcher is
only forked for a worker whose environment matches the server's but for the variables read
later (LATE_VARIABLES and the XLTUI_ ones): otherwise the server refuses and the worker starts a
launcher of its own (``{"refused": why}``), never a run in the wrong environment.

Protocol: the worker connects to the unix socket, sends ``{"env": {...}, "cwd": "..."}`` and
a newline with three file descriptors (the launcher's stdin, stdout, stderr); the server answers
``{"pid": N}`` or ``{"refused": why}`` and closes the connection; the launcher then says ready
on its stdout as any launcher does. Run it as ``python -m engine.training.warm_server SOCKET``
in the workers' environment; it exits when the process that started it is gone.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import sys
import tempfile
import traceback
from collections.abc import Mapping

from engine.training import launcher

# read when a run starts, never at import: they may differ between the server and a worker
LATE_VARIABLES = frozenset({"CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                            "PYTHONUNBUFFERED", "PWD", "OLDPWD", "_", "SHLVL", "HOSTNAME", "ENVIRONMENT",
                            "TMPDIR"})  # TMPDIR: the launcher forgets the server's (tempfile's cache)
# ours are read when used; pytest's are per test; a cluster job's (Slurm's, submitit's) describe the job
LATE_PREFIXES = ("XLTUI_", "PYTEST_", "SLURM_", "SRUN_", "SUBMITIT_")
SHOWN = 5  # variables a refusal names
MAX_REQUEST = 1 << 22
ACCEPT_POLL_S = 1.0  # how often an idle server looks whether its parent is still there


def differences(server: Mapping[str, str], worker: Mapping[str, str]) -> list[str]:
    """The variables a launcher would import under with values other than the worker's."""
    names = set(server) | set(worker)
    return sorted(n for n in names if server.get(n) != worker.get(n)
                  and n not in LATE_VARIABLES and not n.startswith(LATE_PREFIXES))


def _peer_pid(conn: socket.socket) -> int:
    pid, _uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                          struct.calcsize("3i")))
    return pid


def _request(conn: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(conn, 65536, 3)
    while not data.endswith(b"\n") and len(data) < MAX_REQUEST:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return json.loads(data), fds


def _become_launcher(request: dict, fds: list[int], worker: int) -> None:
    """In the forked process: the worker's launcher, as if it had started it."""
    code = 1
    try:
        os.setsid()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # it waits for its runs itself
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None  # found again from the worker's TMPDIR
        watch = os.pidfd_open(worker)  # the worker is alive: it waits for our answer
        code = launcher.serve(lambda: not select.select([watch], [], [], 0)[0])
    except BaseException:
        traceback.print_exc()  # to the worker's stderr, once it is ours
    finally:
        sys.stdout.flush()
        os._exit(code)


def _answer(conn: socket.socket, listening: socket.socket, base: Mapping[str, str]) -> None:
    request, fds = _request(conn)
    try:
        if len(fds) != 3:
            reply = {"refused": f"expected 3 file descriptors, got {len(fds)}"}
        elif wrong := differences(base, request["env"]):
            more = f" and {len(wrong) - SHOWN} more" if len(wrong) > SHOWN else ""
            reply = {"refused": f"its environment differs in {', '.join(wrong[:SHOWN])}{more}"}
        else:
            worker = _peer_pid(conn)
            pid = os.fork()
            if pid == 0:
                listening.close()
                conn.close()
                _become_launcher(request, fds, worker)
            reply = {"pid": pid}
        conn.sendall((json.dumps(reply) + "\n").encode())
    finally:
        for fd in fds:
            os.close(fd)


def main(argv: list[str]) -> int:
    path = argv[0]
    parent = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # its starter decides
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the launchers it forked
    base = dict(os.environ)  # as the imports found it (some set variables of their own)
    launcher.preload()
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listening.bind(path)
    listening.listen(64)
    print(json.dumps(launcher.READY), flush=True)
    try:
        while os.getppid() == parent:
            if not select.select([listening], [], [], ACCEPT_POLL_S)[0]:
                continue
            conn, _ = listening.accept()
            with conn:
                try:
                    _answer(conn, listening, base)
                except (OSError, ValueError, KeyError) as exc:  # that worker starts its own launcher
                    print(f"warm server: a request failed: {exc!r}", file=sys.stderr, flush=True)
    finally:
        listening.close()
        os.unlink(path)
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    os._exit(code)
