"""One warm server per test process (engine.training.warm_server): the workers the tests start fork
their slot's launcher from it instead of importing torch and transformers again, ~6 CPU-s a worker,
which was 40 % of the suite's CPU. Tests of the launcher a slot starts itself (its process tree,
its environment) opt out with the ``own_launchers`` fixture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.runner.slot_setup import SlotOptions, run_env
from tests.support.env import REPO

DISABLE_ENV = "XLTUI_TEST_WARM_SERVER"  # 0: every worker's slot imports in a launcher of its own (to compare)


def wanted() -> bool:
    return os.environ.get(DISABLE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


@contextmanager
def warm_server(folder: Path) -> Iterator[tuple[str, int]]:
    """A warm server listening at ``folder``/warm.sock, ready (its imports done) when this yields
    its socket's path and its pid."""
    path = folder / "warm.sock"
    env = run_env(SlotOptions(db_url="", device="cpu"))  # what a CPU slot's launcher imports under
    proc = subprocess.Popen([sys.executable, "-m", "engine.training.warm_server", str(path)], env=env,
                            cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until its imports are done, or it died
        assert line and json.loads(line) == {"ready": True}, f"the warm server did not start (it said {line!r})"
        yield str(path), proc.pid
    finally:
        proc.terminate()
        proc.wait()
