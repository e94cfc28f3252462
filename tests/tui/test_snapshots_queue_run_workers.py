"""Screenshots of the queue, run detail and workers screens at 80×24 and 120×40.

The demo database has fixed timestamps, the app a fixed clock and a fixed GPU probe, and the
database lives at a fixed path (it is shown in the header), so every run draws the same
screen. Update after a deliberate change with `pytest tests/tui/test_snapshots_queue_run_workers.py --snapshot-update`
and look at the SVGs (tests/tui/__snapshots__/test_snapshots_queue_run_workers/).
"""

from __future__ import annotations

import pytest

from tests.support.tui import demo_app, demo_db, until

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def demo():
    return demo_db()


async def settled(pilot) -> None:
    app = pilot.app
    await until(pilot, lambda: app.snapshot is not None, what="a first snapshot")
    await pilot.pause(0.2)


def opened(run_key: str, tab: str | None = None):
    async def before(pilot) -> None:
        app = pilot.app
        await settled(pilot)
        app.open_run(pilot.app_ids[run_key])
        await until(pilot, lambda: getattr(app.screen, "detail", None) is not None, what="the run detail")
        if tab:
            await pilot.press(tab)
        await pilot.pause(0.3)

    return before


def with_ids(before, ids):
    async def run_before(pilot) -> None:
        pilot.app_ids = ids
        await before(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_queue_screen(snap_compare, demo, size):
    path, _ = demo
    assert snap_compare(demo_app(path), terminal_size=size, run_before=settled)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_run_detail_of_a_running_run(snap_compare, demo, size):
    path, ids = demo
    assert snap_compare(demo_app(path), terminal_size=size, run_before=with_ids(opened("running"), ids))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_run_detail_of_a_failed_run(snap_compare, demo, size):
    path, ids = demo
    assert snap_compare(demo_app(path), terminal_size=size, run_before=with_ids(opened("failed", "l"), ids))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_run_detail_scores(snap_compare, demo, size):
    path, ids = demo
    assert snap_compare(demo_app(path), terminal_size=size, run_before=with_ids(opened("succeeded", "s"), ids))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_workers_screen(snap_compare, demo, size):
    path, _ = demo

    async def before(pilot) -> None:
        await pilot.press("4")
        await settled(pilot)
        await pilot.pause(0.3)

    assert snap_compare(demo_app(path), terminal_size=size, run_before=before)


def test_help_screen(snap_compare, demo):
    path, _ = demo

    async def before(pilot) -> None:
        await settled(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    assert snap_compare(demo_app(path), terminal_size=(80, 24), run_before=before)
