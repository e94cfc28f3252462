"""A full disk under the artifacts root: told apart from a run's own error, then waited out.

A run that cannot write its checkpoint, predictions or log is not wrong; its disk is. Its
attempt fails with one line naming the path and that the disk is full, and the run is
queued again (up to its attempt limit, like a run killed from outside). The worker then
waits for space, looking every ``$XLTUI_DISK_PAUSE`` seconds, instead of claiming run
after run that would fail the same way and emptying the queue in seconds.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from engine.runfiles import DISK_FULL_EXIT, DISK_FULL_PREFIX, LOW_SPACE_BYTES, disk_full, free_bytes, last_error


def run_disk_error(rc: int, out_dir: Path, log_tail: str) -> str | None:
    """The disk-full line of a run process that exited with ``rc``; None when its disk is not the cause.

    The run says so itself (``DISK_FULL_EXIT`` and an error line in its log), or it could not even
    write its log: then a nearly full filesystem under its folder tells."""
    if rc == 0:
        return None
    said = last_error(log_tail)
    if said is not None and said.startswith(DISK_FULL_PREFIX):
        return said
    if rc == DISK_FULL_EXIT:
        return f"{DISK_FULL_PREFIX}cannot write under {out_dir}"
    return disk_full(None, out_dir)


def wait_for_space(root: Path, pause_s: float, stop: threading.Event, say: Callable[[str], None],
                   beat: Callable[[], None], why: str) -> None:
    """Until the filesystem of ``root`` has room again (or the worker is stopped), claiming nothing."""
    say(f"{why}; pausing, then looking for free space under {root} every {pause_s:g}s")
    while not stop.wait(pause_s):
        beat()
        free = free_bytes(root)
        if free is None or free >= LOW_SPACE_BYTES:
            say(f"{free // (1 << 20) if free is not None else '?'} MiB free under {root}: going on")
            return
