"""Helpers shared by tests (moved from tests/grid/test_grid_files.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.grid.schema import load_grid
from engine.grid.yamlfile import GridError, GridIssue

REPO = Path(__file__).resolve().parents[2]


BASE = """\
study: smoke
task: ner
source: en
targets: [swa, yor]
data:
  ner: masakhaner
models:
  - {name: tiny, model: tiny, method: full, lr: 5e-4}
  - name: xlmr
    model: xlm-roberta-base
    method: full
settings: [zero-shot]
seeds: [1, 2]
train:
  lr: 3.0e-5
  batch_size: 32
"""


def edit(text: str, changes: dict[int, str | None]) -> str:
    """Replace (or with None, blank out) 1-based lines, keeping every other line number."""
    lines = text.splitlines()
    for no, new in changes.items():
        lines[no - 1] = new if new is not None else ""
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str, name: str = "grid.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def issues_of(path: Path) -> list[GridIssue]:
    with pytest.raises(GridError) as info:
        load_grid(path)
    return info.value.issues


def single_issue(path: Path) -> GridIssue:
    issues = issues_of(path)
    assert len(issues) == 1, "\n".join(map(str, issues))
    return issues[0]
