"""The Results screen's Costs tab: `$` reads the report again with the efficiency table
(`xltui results --efficiency`), shows its columns, the Figures tab its charts, and an export from there
is byte for byte what the CLI writes with --efficiency; `$` from the Costs tab goes back to the tables
without it. The database holds
runs that stored their costs through the store's own functions (tests/support/costed_runs.py)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Static, TabbedContent

from tests.support.costed_runs import STUDY, build_costed_runs
from tests.support.env import xltui
from tests.support.tui import run, switch_to, until
from xltui.tui.results_screen import ResultsScreen
from xltui.tui.results_view import EFFICIENCY_HINT, ResultsQuery

COLUMNS = ("method", "F1 (%)", "trainable", "trainable %", "s/step", "peak RSS", "peak GPU", "runs")


def shown(widget: Static) -> str:
    """The text a Static shows, at its width."""
    console = Console(file=io.StringIO(), width=max(widget.size.width, 40), no_color=True, color_system=None)
    console.print(widget.content)
    return console.file.getvalue()


@pytest.fixture
def costed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)  # exports go to ./xltui-exports
    db = str(tmp_path / "experiments.db")
    build_costed_runs(db)
    return db


def test_query_names_the_flag_and_the_file():
    q = ResultsQuery(STUDY, efficiency=True)
    assert q.cli_args("csv") == ["results", STUDY, "--efficiency", "--format", "csv"]
    assert q.export_path(Path("out"), "csv") == Path("out/costs/costs-efficiency.csv")


def test_costs_key_shows_the_efficiency_table_and_exports_it(costed, tmp_path):
    async def scenario() -> Path:
        from xltui.app import XltuiApp

        app = XltuiApp(costed, gpu_probe=None)
        async with app.run_test(size=(150, 40)) as pilot:
            screen = await switch_to(pilot, "3", ResultsScreen)
            assert "Costs" in {c.title for c in app.get_system_commands(screen)}
            await until(pilot, lambda: screen.report is not None, what="the first report")
            assert screen.report.efficiency is None
            assert shown(screen.query_one("#efficiency", Static)).split() == EFFICIENCY_HINT.split()
            tabs = screen.query_one(TabbedContent)
            await pilot.press("dollar_sign")
            await until(pilot, lambda: screen.report is not None and screen.report.efficiency is not None
                        and tabs.active == "tab-efficiency", what="the report with the efficiency table")
            text = shown(screen.query_one("#efficiency", Static))
            header = next(line for line in text.splitlines() if "trainable %" in line)
            assert [c for c in COLUMNS if c not in header] == []
            assert "lora alpha=16 r=8" in text and "1.49M" in text and "7.0 GiB" in text
            assert "--efficiency" in str(screen.query_one("#results-status", Static).content)
            await pilot.press("c")
            path = tmp_path / "xltui-exports" / STUDY / "costs-efficiency.csv"
            await until(pilot, path.exists, what=str(path))
            await pilot.press("f")  # the figures carry the efficiency charts while the table is on
            await until(pilot, lambda: tabs.active == "tab-figures", what="the Figures tab")
            assert "zero-shot: score against trainable parameters" in shown(screen.query_one("#figures", Static))
            await pilot.press("dollar_sign")  # on, from another tab: back to the Costs tab, still on
            await until(pilot, lambda: tabs.active == "tab-efficiency", what="the Costs tab again")
            assert screen.query_shown.efficiency and screen.report.efficiency is not None
            await pilot.press("dollar_sign")  # from the Costs tab: off, back to the tables
            await until(pilot, lambda: screen.report is not None and screen.report.efficiency is None
                        and tabs.active == "tab-tables", what="the tables without the efficiency table")
            assert screen.query_shown is not None and not screen.query_shown.efficiency
        return path

    holder: list[Path] = []

    async def keep() -> None:
        holder.append(await scenario())

    run(keep())
    cli = xltui("results", STUDY, "--db", costed, "--efficiency", "--format", "csv", check=True).stdout
    assert holder[0].read_text(encoding="utf-8") == cli
    assert "efficiency,ner,f1,test" in cli
