"""Sentiment results where a researcher reads them: the Results screen (tables, paired and tweet-level
tests, figures, exports identical to `xltui results`), a run's per-class scores, and a LaTeX table
that compiles — on runs a real worker trained (`xltui run --grid`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.env import run_study, xltui
from tests.support.reports import compile_latex
from tests.support.tui import rendered, switch_to, until, widget_text
from xltui.tui.results_screen import ResultsScreen

GRID = """\
study: tweets
task: sentiment
source: en
targets: [swa, pcm]
data: {sentiment: afrisenti}
models:
  - {name: tiny, model: tiny, method: full, lr: 1.0e-3}
  - name: madx
    model: minilm
    method: madx
    lr: 1.0e-3
    lang_adapter: {mlm_steps: 4, batch_size: 8, max_length: 32}
settings: [zero-shot]
seeds: [1]
train: {batch_size: 8, max_length: 32, epochs: 1, max_train_sentences: 32, max_eval_sentences: 40}
"""


@pytest.fixture(scope="module")
def tweets_db(tmp_path_factory, cache_dir: Path) -> str:
    return run_study(tmp_path_factory.mktemp("tweets"), GRID, cache_dir)


def new_app(db: str):
    from xltui.app import XltuiApp

    return XltuiApp(db, gpu_probe=None)


@pytest.mark.slow
def test_results_screen_tests_tweets_and_exports_what_the_cli_prints(tweets_db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    async def scenario() -> list[Path]:
        app = new_app(tweets_db)
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await switch_to(pilot, "3", ResultsScreen)
            await until(pilot, lambda: screen.report is not None, what="the first report")
            tables = widget_text(screen.query_one("#tables"))
            assert "sentiment weighted F1 (%)" in tables and "tiny" in tables
            assert screen.report.comparison.title == "madx vs tiny: paired tests"  # MAD-X against the rest by default
            rows = screen.report.comparison.rows
            assert {r.task for r in rows} == {"sentiment"} and all(r.sentence is not None and r.sentence.result is not None for r in rows)
            await pilot.press("f")
            assert "relative sentiment weighted F1 change" in widget_text(screen.query_one("#figures"))
            await pilot.press("l")
            tex = tmp_path / "xltui-exports" / "tweets" / "tweets.tex"
            await until(pilot, tex.exists, what=str(tex))
            await pilot.press("e")
            others = [tex.with_suffix(".csv"), tex.with_suffix(".md")]
            await until(pilot, lambda: all(p.exists() for p in others), what="the CSV and Markdown files")
            return [tex, *others]

    tex, csv, md = asyncio.run(scenario())
    for path, fmt in ((tex, "latex"), (csv, "csv"), (md, "markdown")):
        proc = xltui("results", "tweets", "--db", tweets_db, "--format", fmt, check=True)
        assert path.read_text(encoding="utf-8") == proc.stdout, fmt
    compile_latex(tex.read_text(encoding="utf-8"), tmp_path)


@pytest.mark.slow
def test_a_runs_scores_show_each_class(tweets_db):
    """The Run screen's scores: the task's three overall scores, then F1 per class."""
    from engine.store.db import open_db
    from engine.store.queue_reads import run_rows
    from engine.store.reader import reading
    from xltui.tui.detail_reader import DetailReader
    from xltui.tui.run_scores import score_tables

    with reading(open_db(tweets_db)) as reader:
        row = next(r for r in run_rows(reader) if r.model_name == "madx" and r.method == "madx")
        detail = DetailReader().read(reader, row)
    text = rendered(score_tables(detail), width=160)
    assert all(m in text for m in ("weighted_f1", "macro_f1", "accuracy", "f1 per class"))
    assert all(label in text for label in ("negative", "neutral", "positive"))
