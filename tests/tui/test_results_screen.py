"""The Results screen (screen 3) driven as a user would, on a database filled by real tiny CPU runs
executed by a real worker (`xltui run --grid`): tables, tests chosen from the screen, figures, and
exports that are byte for byte what `xltui results ... --format FMT` prints."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import Select

from engine.runner.plan import queue_runs
from engine.store.db import open_db
from tests.support.env import xltui
from tests.support.stored_runs import spec
from tests.support.tui import switch_to, until, widget_text
from xltui.tui.results_screen import ResultsScreen
from xltui.tui.results_view import ResultsQuery, comparison_choices

GRID = """\
study: pair
task: ner
source: en
targets: [swa, yor]
data: {ner: masakhaner}
models:
  - {name: tiny-a, model: tiny, method: full, lr: 1.0e-3}
  - {name: tiny-b, model: tiny, method: full, lr: 5.0e-4}
settings: [zero-shot]
seeds: [1, 2]
train: {batch_size: 8, max_length: 48, epochs: 1, patience: 2, max_train_sentences: 40, max_eval_sentences: 40}
"""


@pytest.fixture(scope="module")
def pair_db(tmp_path_factory) -> str:
    """Four real runs (2 models × 2 seeds, ~30 s on 2 CPU cores), trained by a real worker process."""
    folder = tmp_path_factory.mktemp("pair")
    (folder / "grid.yaml").write_text(GRID)
    db = str(folder / "experiments.db")
    xltui("run", "--grid", str(folder / "grid.yaml"), "--db", db, "--cpu", check=True, timeout=600)
    return db


def new_app(db: str):
    from xltui.app import XltuiApp

    return XltuiApp(db, gpu_probe=None)


def test_query_is_the_cli_command_and_names_the_export():
    q = ResultsQuery("pair", task="ner", compare="tiny-a:tiny-b", per_language=True)
    assert q.cli_args("latex") == ["results", "pair", "--task", "ner", "--compare", "tiny-a:tiny-b",
                                   "--per-language", "--format", "latex"]
    assert q.export_path(Path("out"), "latex") == Path("out/pair/pair-ner-tiny-a-perlang.tex")
    assert ResultsQuery("a b").command("csv") == "xltui results 'a b' --format csv"
    assert comparison_choices(["x", "y", "z"])[1] == ("tests: x vs rest", "x:y,z")


@pytest.mark.slow
def test_tables_tests_figures_and_latex_export_match_the_cli(pair_db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    async def scenario() -> list[Path]:
        app = new_app(pair_db)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await switch_to(pilot, "3", ResultsScreen)
            palette = {c.title for c in app.get_system_commands(screen)}
            assert {"LaTeX", "CSV", "MD", "All", "PNG/PDF", "Figures", "Per-lang", "Reload"} <= palette
            await until(pilot, lambda: screen.report is not None, what="the first report")
            tables = widget_text(screen.query_one("#tables"))
            assert "NER F1 (%), mean ± SD over seeds" in tables and "tiny-a" in tables
            assert screen.report.comparison is None  # no MAD-X system: the CLI's default has no tests
            # choose "tiny-a vs rest" in the tests list with the keyboard
            screen.query_one("#compare", Select).focus()
            await pilot.press("enter", "down", "enter")
            await until(pilot, lambda: screen.report is not None and screen.report.comparison is not None,
                        what="the report with paired tests")
            assert screen.query_shown.compare == "tiny-a:tiny-b"
            assert "tiny-a vs tiny-b: paired tests" in widget_text(screen.query_one("#tables"))
            await pilot.press("f")
            figures = widget_text(screen.query_one("#figures"))
            assert "macro average ± SD over seeds" in figures and "relative NER F1 change" in figures
            await pilot.press("l")
            tex = tmp_path / "xltui-exports" / "pair" / "pair-tiny-a.tex"
            await until(pilot, tex.exists, what=str(tex))
            await pilot.press("e")
            others = [tex.with_suffix(".csv"), tex.with_suffix(".md")]
            await until(pilot, lambda: all(p.exists() for p in others), what="the CSV and Markdown files")
            await pilot.press("g")
            figures_dir = tmp_path / "xltui-exports" / "pair" / "pair-tiny-a-figures"
            await until(pilot, lambda: len(list(figures_dir.glob("*"))) == 4, what="PNG and PDF figures")
            assert sorted(p.name for p in figures_dir.iterdir()) == [
                "improvement-ner-f1-tiny-a.pdf", "improvement-ner-f1-tiny-a.png", "macro-ner-f1.pdf",
                "macro-ner-f1.png"]
            return [tex, *others]

    tex, csv, md = asyncio.run(scenario())
    for path, fmt in ((tex, "latex"), (csv, "csv"), (md, "markdown")):
        proc = xltui("results", "pair", "--db", pair_db, "--compare", "tiny-a:tiny-b", "--format", fmt, check=True)
        assert path.read_text(encoding="utf-8") == proc.stdout, fmt


@pytest.mark.slow
def test_no_results_yet_is_said_in_words_and_open_results_selects_the_study(pair_db, tmp_path):
    db = str(tmp_path / "copy.db")
    Path(db).write_bytes(Path(pair_db).read_bytes())
    queue_runs(open_db(db), "waiting", [spec("tiny-a", 1), spec("tiny-b", 1)])
    cli = xltui("results", "waiting", "--db", db)
    assert cli.returncode == 2

    async def scenario() -> str:
        app = new_app(db)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: type(app.screen).__name__ == "QueueScreen")
            app.open_results("waiting")
            await until(pilot, lambda: type(app.screen).__name__ == "ResultsScreen")
            screen = app.screen
            await until(pilot, lambda: screen.query_shown is not None and screen.query_shown.study == "waiting",
                        what="the waiting study")
            assert screen.report is None
            await pilot.press("l")  # nothing to export: said, not crashed
            return widget_text(screen.query_one("#tables"))

    text = asyncio.run(scenario())
    assert " ".join(text.split()) == " ".join(cli.stderr.split())  # "error: no test results yet in waiting (...)"
