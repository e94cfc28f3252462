"""Fixtures of the TUI tests (helpers they share are in tests/support/tui.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app runs where a user would start it: configs/ and experiments.db in the working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
