"""The studies-and-queue screen, driven as a user would: on a real database filled by a real
worker process running tiny CPU runs (queued → running → done, cancel, retry), and on the
demo database for filtering, sorting, marking and priorities."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from engine.settings import TEST_HOLD_ENV
from engine.store.db import open_db
from engine.store.schema import Run
from tests.support.env import xltui_bg
from tests.support.tui import demo_app, demo_db, run, screen_text, stop_worker, until
from tests.support.workers import enqueue_grid
from xltui.app import XltuiApp
from xltui.tui.confirm_dialog import ConfirmScreen
from xltui.tui.queue_screen import QueueScreen
from xltui.tui.runlist import RunList


def shown(app) -> dict[int, str]:
    """run id -> status as the run list shows it (none while the queue screen is not composed yet)."""
    lists = app.screen.query(RunList) if isinstance(app.screen, QueueScreen) else []
    return {r.id: r.status for r in lists[0].view} if lists else {}


async def put_cursor(pilot, app, run_id: int) -> None:
    runs = app.screen.query_one(RunList)
    runs.focus()
    assert runs.select_run(run_id)
    await pilot.pause()


@pytest.mark.slow
def test_watch_runs_go_from_queued_to_done_cancel_one_while_running_and_retry_it(db, tiny_grid, tmp_path):
    first, second = enqueue_grid(db, tiny_grid(seeds="[1, 2]", train=24, eval=16))
    go = tmp_path / "go"
    hold = {TEST_HOLD_ENV: f"step:1:{go}"}  # run 1 waits at its first step until cancelled
    worker = None

    async def drive() -> None:
        nonlocal worker
        app = XltuiApp(db, poll_s=0.3, gpu_probe=None)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: shown(app) == {first: "queued", second: "queued"}, what="two queued runs")
            assert "tiny" in screen_text(app)
            # not --exit-when-idle: between run 2's end and the retry of run 1 the queue is empty
            worker = xltui_bg("worker", "--db", db, "--cpu", "--poll", "0.2", log=tmp_path / "worker.log", env=hold)
            await until(pilot, lambda: shown(app).get(first) == "running", timeout=120, what="run 1 running")
            await put_cursor(pilot, app, first)
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
            await pilot.press("y")
            await until(pilot, lambda: shown(app).get(first) == "cancelled", timeout=60, what="run 1 cancelled")
            go.touch()
            await until(pilot, lambda: shown(app).get(second) in ("running", "succeeded"), timeout=120,
                        what="run 2 picked up")
            await until(pilot, lambda: shown(app).get(second) == "succeeded", timeout=240, what="run 2 done")
            text = screen_text(app)
            assert "succeeded" in text and "cancelled" in text
            await put_cursor(pilot, app, first)
            await pilot.press("r")
            await until(pilot, lambda: shown(app).get(first) in ("queued", "running"), timeout=30, what="re-queued")
            await until(pilot, lambda: shown(app).get(first) == "succeeded", timeout=240, what="run 1 done")
            study = app.snapshot.studies[0]
            assert study.counts["succeeded"] == 2 and study.eta_s == 0.0
            row = app.snapshot.by_id[first]
            assert row.score is not None and row.attempts == 2  # the cancelled attempt and the retried one

    try:
        run(drive())
    finally:
        stop_worker(worker)
    with Session(open_db(db, create=False)) as s:
        assert [r.status for r in s.exec(select(Run).order_by(Run.id))] == ["succeeded", "succeeded"]


def test_filter_sort_mark_and_priority(tmp_path):
    path, ids = demo_db(tmp_path / "demo")

    async def drive() -> None:
        app = demo_app(path)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: len(shown(app)) == 13, what="13 runs")
            runs = app.screen.query_one(RunList)
            await pilot.press("slash", *"failed")
            assert [r.id for r in runs.view] == [ids["failed"]]
            await pilot.press("escape")  # clears the filter
            assert len(runs.view) == 13
            await pilot.press("s")  # id → status
            assert runs.sort_key == "status" and runs.view[0].status == "running"
            await pilot.press("S")
            assert runs.view[0].status == "succeeded"
            for _ in range(12):  # s cycles through the columns on screen
                await pilot.press("s")
                if runs.sort_key == "model":
                    break
            assert runs.sort_key == "model" and [r.model for r in runs.view] == sorted(r.model for r in runs.view)
            runs.sort_by("id", reverse=False)
            queued = [r.id for r in runs.view if r.status == "queued"]
            await put_cursor(pilot, app, queued[0])
            await pilot.press("space", "space")  # marks two runs, the cursor moves on
            marked = sorted(runs.marked)
            assert marked == queued[:2]
            await pilot.press("plus")
            await until(pilot, lambda: all(app.snapshot.by_id[i].priority == 1 for i in marked), what="priority")
            assert runs.marked == set(marked)  # kept for priority: + again raises further
            await pilot.press("minus", "minus")
            await until(pilot, lambda: all(app.snapshot.by_id[i].priority == -1 for i in marked), what="lower")
            # a study row scopes the list
            await pilot.press("shift+tab")
            await pilot.press("down", "down")  # all → study 1 → study 2
            await until(pilot, lambda: {r.study for r in runs.view} == {"pos-ud"}, what="scoped to pos-ud")
            await pilot.press("o")
            await until(pilot, lambda: app.current_mode == "results" or app._notifications, what="results")

    run(drive())


def test_the_mouse_sorts_selects_and_opens(tmp_path):
    from xltui.tui.run_screen import RunScreen

    path, ids = demo_db(tmp_path / "demo")

    async def drive() -> None:
        app = demo_app(path)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: len(shown(app)) == 13, what="13 runs")
            await pilot.pause(0.2)  # the studies table above has grown to its height
            runs = app.screen.query_one(RunList)
            await pilot.click(RunList, offset=(8, 0))  # the header of the status column
            assert runs.sort_key == "status"
            await pilot.click(RunList, offset=(1, 0))  # the id column
            await pilot.click(RunList, offset=(1, 0))  # again: descending
            assert runs.sort_key == "id" and runs.sort_reverse and runs.view[0].id == 13
            await pilot.click(RunList, offset=(3, 3))  # third run from the top
            assert runs.current_run.id == 11
            await pilot.click(RunList, offset=(3, 4), times=2)
            await until(pilot, lambda: isinstance(app.screen, RunScreen), what="the run opened")
            assert app.screen.detail_run_id == 10

    run(drive())


def test_run_list_columns_are_as_wide_as_their_content(tmp_path):
    """At 160 columns every column shows its text uncut (an imported study's "external" /
    "in-language" too) and the loss / score column is no wider than its widest text (plus the
    sort mark's room): width left over shows more of a failed run's error, never blank cells
    inside the table. At 80 the columns that matter most stay, each still fitting its text."""
    from engine.analysis.import_results import import_results
    from tests.support.env import DATA
    from xltui.tui.runlist import SORT_MARK, content_widths, progress_text

    path, ids = demo_db(tmp_path / "demo")
    import_results(open_db(path, create=False), DATA / "results" / "masakhaner2_baselines.csv", study="published")

    def widths(runs: RunList) -> dict[str, int]:
        return {c.key: w for c, w in runs.columns()}

    def widest_progress(runs: RunList) -> int:
        return max(len(progress_text(r)) for r in runs.rows)

    async def drive(size: tuple[int, int]) -> None:
        app = demo_app(path)
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: len(shown(app)) == 13 + 896, what="every run")
            runs = app.screen.query_one(RunList)
            shown_widths = widths(runs)
            assert sum(w + 1 for w in shown_widths.values()) <= runs.size.width
            need = content_widths(runs.rows, runs.sort_key)
            if size[0] == 160:
                assert len(shown_widths) == 12  # every column
                for key, width in shown_widths.items():
                    if key not in ("progress", "time"):
                        assert width == need[key], (key, width, need[key])  # its text, uncut
                texts = {(r.method, r.setting) for r in runs.rows}
                assert ("external", "in-language") in texts
                assert max(len(m) for m, _ in texts) <= shown_widths["method"]
                assert max(len(s) for _, s in texts) <= shown_widths["setting"]
                # the free width goes to the one text still cut at its cap: the failed run's error
                error = app.snapshot.by_id[ids["failed"]].error
                assert need["progress"] == len(error) > shown_widths["progress"] > 30
                assert error[:shown_widths["progress"] - 1] + "…" in screen_text(app)
                await put_cursor(pilot, app, max(r.id for r in runs.rows))
                await pilot.pause(0.2)
                assert " external ner  in-language " in screen_text(app)
            else:
                assert {"id", "status", "model", "progress", "time"} <= set(shown_widths)
                assert shown_widths["progress"] <= max(widest_progress(runs), len("loss / score")) + SORT_MARK
            # a study with only scores to show: its loss / score column is as wide as its header
            await pilot.press("shift+tab")
            await pilot.press("down", "down", "down")  # all → study 1 → study 2 → published
            await until(pilot, lambda: {r.study for r in runs.view} == {"published"}, what="scoped to published")
            await pilot.pause(0.1)
            scoped = widths(runs)
            assert scoped["progress"] == len("loss / score") <= max(widest_progress(runs), 12)
            assert all(len(line.rstrip()) <= size[0] for line in screen_text(app).splitlines())
            if size[0] == 160:
                for key, width in scoped.items():
                    if key != "time":
                        assert width == content_widths(runs.rows, runs.sort_key)[key], key

    run(drive((160, 40)))
    run(drive((80, 24)))
