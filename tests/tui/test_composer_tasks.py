"""The composer offers every task of the task table (engine.tasks) with its catalog and the languages
its data serves, each language once; a grid composed for a task is the one the CLI expands."""

from __future__ import annotations

import asyncio

from textual.widgets import Input, SelectionList

from engine.grid.expand import expand
from engine.grid.schema import load_grid
from tests.support.tui import app_in, switch_to, tick, type_into, until
from xltui.tui.composer import ComposerScreen


def test_compose_a_sentiment_grid_from_the_afrisenti_languages(workdir):
    """Sentiment is offered with its catalog, its languages each under one code, and the grid it makes
    is the one `xltui grid validate` accepts."""
    async def scenario() -> None:
        app = app_in(workdir)
        async with app.run_test(size=(100, 40)) as pilot:
            screen = await switch_to(pilot, "2", ComposerScreen)
            assert screen.query_one("#data-sentiment", Input).value == "afrisenti"
            await tick(pilot, screen, "#tasks", ["ner", "sentiment"])  # NER off, sentiment on
            targets = screen.query_one("#targets", SelectionList)
            await until(pilot, lambda: "pcm" in [targets.get_option_at_index(i).value
                                                 for i in range(targets.option_count)], what="AfriSenti targets")
            offered = [targets.get_option_at_index(i).value for i in range(targets.option_count)]
            assert {"orm", "tir", "hau", "amh"} <= set(offered) and len(offered) == len(set(offered))
            assert "am" not in offered and "eng" not in offered
            await pilot.click("#models", offset=(4, 0))  # tiny
            await tick(pilot, screen, "#targets", ["hau"])
            await type_into(pilot, "#seeds", "1")
            await until(pilot, lambda: screen.last_check and screen.last_check.ok and screen.last_check.n_runs == 1,
                        what="a valid 1-run sentiment grid")
            text = screen.current_yaml()
            assert "task: sentiment" in text and "sentiment: afrisenti" in text
            (workdir / "tweets.yaml").write_text(text)
            assert {s.task for s in expand(load_grid(workdir / "tweets.yaml"))} == {"sentiment"}

    asyncio.run(scenario())
