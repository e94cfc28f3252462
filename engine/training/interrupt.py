"""A stop asked of a running run, acted on at a step boundary (never mid-step).

A signal handler that saved the training state itself could catch the model half-updated
(between ``backward`` and ``optimizer.step``); instead the run process's handler calls
``request`` and the training loops call ``check`` between steps (and between batches of a
dev evaluation): the loop saves its state and ends the run with ``Interrupted``. Outside a
loop (loading data, testing the selected model) nothing is lost by ending at once, so a
request made there ends the process as a plain SIGTERM did.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from engine.settings import simulated_hold, simulated_signal


class Interrupted(Exception):
    """The loop saved its state and stops: the run process exits with ``exit_code``."""

    def __init__(self, reason: str, exit_code: int):
        super().__init__(reason)
        self.reason, self.exit_code = reason, exit_code


class _Request:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason, self.exit_code = "", 1
        self.deferring = 0  # inside a training loop: the request waits for its next step boundary


_request = _Request()


def request(reason: str, exit_code: int) -> bool:
    """Ask the run to stop; True if a training loop will act on it (save, then end), False if the
    caller should end the process itself (no loop is running: there is nothing to save)."""
    if not _request.event.is_set():
        _request.reason, _request.exit_code = reason, exit_code
        _request.event.set()
    return _request.deferring > 0


def check() -> None:
    """Between two steps of a training loop: raise ``Interrupted`` if a stop was asked (the loop saves
    its state as it ends). Outside a loop nothing: the stop has ended the process already."""
    if _request.event.is_set() and _request.deferring > 0:
        raise Interrupted(_request.reason, _request.exit_code)


@contextmanager
def deferred() -> Iterator[None]:
    """While training: a stop request waits for the loop's next step boundary."""
    _request.deferring += 1
    try:
        yield
    finally:
        _request.deferring -= 1


WORKER_STOP_WAIT_S = 600.0  # how long a run that signalled its worker waits for the stop the worker sends back
_worker_id: str | None = None


def set_worker(worker_id: str) -> None:
    """The worker this run belongs to (its id: host:pid:slot), for a test signal aimed at the worker."""
    global _worker_id
    _worker_id = worker_id


HOLD_POLL_S = 0.1


def at(where: str, n: int) -> None:
    """A point of a loop a test may stop a run at (``$XLTUI_TEST_SIGNAL_AT``, engine.settings): the
    process sends itself the real signal there, and the real handler acts on it. Aimed at the worker
    (``step:2:TERM:worker``), the run signals its worker and waits here for the stop the worker's
    own handler sends it, so the run stops at that point however fast the machine is. Or hold the
    run there (``$XLTUI_TEST_HOLD_AT``) until the test's file exists or the run is asked to stop."""
    hold = simulated_hold()
    if hold is not None and hold[:2] == (where, n):
        while not Path(hold[2]).exists() and not _request.event.wait(HOLD_POLL_S):
            continue
    wanted = simulated_signal()
    if wanted is None or wanted[:2] != (where, n):
        return
    number = getattr(signal, f"SIG{wanted[2].removeprefix('SIG')}")
    if wanted[3] == "worker":
        assert _worker_id is not None, "a test signal for the worker, but the run was not told its worker"
        os.kill(int(_worker_id.split(":")[1]), number)
        _request.event.wait(WORKER_STOP_WAIT_S)
    else:
        os.kill(os.getpid(), number)
