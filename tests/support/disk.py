"""A real small disk for the full-disk tests: a tmpfs of a few MB, and filling it
(moved from tests/runner/test_full_disk.py; the state-saving tests use it too)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from engine.runfiles import free_bytes

SIZE_MB = 48


@pytest.fixture
def small_disk(tmp_path: Path):
    """A tmpfs of SIZE_MB mounted for the test (needs root, as in CI)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    mount = tmp_path / "artifacts"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs on this machine: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def fill(disk: Path, leave: int = 0) -> Path:
    """Write a file until the filesystem has ``leave`` bytes left; it is the space a user would free."""
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        try:
            while (free := free_bytes(disk)) > leave:
                fh.write(b"\0" * min(1 << 20, max(4096, free - leave)))
                fh.flush()
        except OSError as exc:
            assert exc.errno == 28, exc
    return filler
