"""Snapshots of the composer and results screens at 80×24 and 120×40 (pytest-textual-snapshot).

Fixed data only: the composer shows a grid file from a fixed text on an empty database (so the
estimate is "unknown", never a time), the results screen the fixed scores of tests/analysis/test_tables.py.
Update after a deliberate change with `pytest tests/tui/test_snapshots_composer_results.py --snapshot-update`
and look at the SVGs in tests/tui/__snapshots__/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.stored_runs import build_stored_runs
from tests.support.tui import switch_to, until

GRID = """\
study: demo
task: ner
source: en
targets: [swa, yor, hau]
data: {ner: masakhaner}
models:
  - {name: tiny, model: tiny, method: full, lr: 0.001}
  - {name: madx-minilm, model: minilm, method: madx}
settings: [zero-shot, {few-shot: [10]}]
seeds: [1, 2, 3]
train:
  epochs: 3
"""
SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def composer_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from xltui.app import XltuiApp

    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "demo.yaml").write_text(GRID)
    return XltuiApp(str(tmp_path / "experiments.db"), gpu_probe=None)


@pytest.fixture
def results_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from xltui.app import XltuiApp

    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "experiments.db")
    build_stored_runs(db)
    return XltuiApp(db, gpu_probe=None)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_composer(snap_compare, composer_app, size):
    async def before(pilot) -> None:
        from xltui.tui.composer import ComposerScreen

        screen = await switch_to(pilot, "2", ComposerScreen)
        screen.load_grid_file(Path("configs/demo.yaml"), announce=False)
        await until(pilot, lambda: screen.last_check is not None and screen.last_check.study == "demo")
        screen.query_one("#models").focus()  # not a blinking text cursor
        await pilot.pause(0.1)

    assert snap_compare(composer_app, terminal_size=size, run_before=before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_results_tables(snap_compare, results_app, size):
    async def before(pilot) -> None:
        from xltui.tui.results_screen import ResultsScreen

        screen = await switch_to(pilot, "3", ResultsScreen)
        await until(pilot, lambda: screen.report is not None)
        await pilot.pause(0.1)

    assert snap_compare(results_app, terminal_size=size, run_before=before)


def test_results_figures(snap_compare, results_app):
    async def before(pilot) -> None:
        from xltui.tui.results_screen import ResultsScreen

        screen = await switch_to(pilot, "3", ResultsScreen)
        await until(pilot, lambda: screen.report is not None)
        await pilot.press("f")
        await pilot.pause(0.1)

    assert snap_compare(results_app, terminal_size=(80, 24), run_before=before)
