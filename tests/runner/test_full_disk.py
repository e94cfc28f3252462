"""A full disk under the artifacts root: the run fails in one line naming the path, the worker
pauses instead of failing the whole queue, goes on once there is space, and the database
keeps every result (a real tmpfs of a few MB, a real worker and real run processes)."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import pytest

from engine.runfiles import DISK_FULL_PREFIX, disk_full, free_bytes
from tests.support.disk import fill
from tests.support.env import wait_for, xltui_bg
from tests.support.workers import attempts, enqueue_grid, runs


def test_disk_full_names_its_errno_and_path(small_disk: Path):
    fill(small_disk)
    assert free_bytes(small_disk / "not" / "yet") == 0  # the nearest existing folder's filesystem
    with pytest.raises(OSError) as raised, open(small_disk / "more", "wb") as fh:
        fh.write(b"x" * 10)
        fh.flush()
    assert disk_full(raised.value, small_disk) == f"{DISK_FULL_PREFIX}cannot write under {small_disk} " \
                                                  "(No space left on device)"
    assert disk_full(RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed"),
                     small_disk) == f"{DISK_FULL_PREFIX}cannot write under {small_disk} (0 KiB free)"
    assert disk_full(RuntimeError("a bug"), small_disk.parent) is None  # space left: not the disk


@pytest.mark.slow
@pytest.mark.parametrize("leave", [0, 256 << 10], ids=["no room for the log", "room for the log only"])
def test_worker_pauses_on_a_full_disk_and_goes_on_once_there_is_space(small_disk, tmp_path, tiny_grid, leave,
                                                                      monkeypatch: pytest.MonkeyPatch):
    db = str(tmp_path / "experiments.db")
    ids = enqueue_grid(db, tiny_grid(seeds="[1, 2]"), max_attempts=3)
    filler = fill(small_disk, leave)
    monkeypatch.setenv("XLTUI_ARTIFACTS", str(small_disk))
    monkeypatch.setenv("XLTUI_DISK_PAUSE", "1")
    log = tmp_path / "worker.log"
    worker = xltui_bg("worker", "--db", db, "--cpu", "--exit-when-idle", "--poll", "0.2", log=log)
    try:
        first = wait_for(lambda: next((a for i in ids for a in attempts(db, i) if a.outcome == "failed"), None),
                         timeout=180, what="a run failing on the full disk")
        assert first.error.splitlines()[0].startswith(f"{DISK_FULL_PREFIX}cannot write "), first.error
        assert str(small_disk) in first.error.splitlines()[0]
        if leave:  # the run itself said what it could not write: its best weights (saved as it trains) or checkpoint
            assert re.match(rf"{DISK_FULL_PREFIX}cannot write (under )?{small_disk}/run-\d+-\w+/"
                            rf"(state-[0-9a-f]+/best-\d+\.pt|attempt-1/checkpoint) \(", first.error.splitlines()[0]), first.error
        wait_for(lambda: "pausing" in log.read_text(), timeout=30, what="the worker's pause")
        time.sleep(3)  # paused while the disk stays full: the queue is not burnt through
        tried = {i: len(attempts(db, i)) for i in ids}
        assert sum(tried.values()) == 1, tried
        assert worker.poll() is None, log.read_text()
        filler.unlink()  # the user frees space
        assert worker.wait(timeout=300) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
    assert [r.status for r in runs(db)] == ["succeeded", "succeeded"], log.read_text()
    for run_id in ids:
        outcomes = [a.outcome for a in attempts(db, run_id)]
        assert outcomes.count("succeeded") == 1, outcomes
    assert [a.outcome for a in attempts(db, first.run_id)] == ["failed", "succeeded"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT COUNT(DISTINCT run_id) FROM result").fetchone() == (2,)
