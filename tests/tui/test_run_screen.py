"""The run detail screen on real runs executed by a real worker process: live charts while it
trains, scores per language and entity type when done, and a failed run's error in words with
the path of its log."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Log, TabbedContent

from tests.support.env import make_conll, xltui_bg
from tests.support.tui import demo_app, demo_db, run, screen_text, stop_worker, until
from tests.support.workers import enqueue_grid
from xltui.app import XltuiApp
from xltui.tui.confirm_dialog import ConfirmScreen
from xltui.tui.run_screen import RunScreen
from xltui.tui.snapshot import downsample

BROKEN_GRID = """\
study: broken
task: ner
source: en
targets: [swa]
data: {{ner: {data}}}
models:
  - {{name: tiny, model: tiny, method: full, lr: 1.0e-3}}
settings: [zero-shot]
seeds: [1]
train: {{batch_size: 8, max_length: 32, epochs: 1}}
"""


def detail(app):
    return app.screen.detail if isinstance(app.screen, RunScreen) else None


@pytest.mark.slow
def test_a_real_run_fills_its_charts_then_shows_its_scores_and_a_failed_run_says_where_to_look(
        db, tiny_grid, tmp_path):
    (good,) = enqueue_grid(db, tiny_grid(seeds="[1]", epochs=2, train=40, eval=24))
    data = tmp_path / "broken-data"
    for lang in ("en", "swa"):
        make_conll(data / lang)
    broken_grid = tmp_path / "broken.yaml"
    broken_grid.write_text(BROKEN_GRID.format(data=data))
    (bad,) = enqueue_grid(db, broken_grid)
    (data / "swa" / "test.txt").unlink()  # valid when queued, fails when the run reads its target
    worker = None

    async def drive() -> None:
        nonlocal worker
        app = XltuiApp(db, poll_s=0.3, gpu_probe=None)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.snapshot is not None, what="a first snapshot")
            app.open_run(good)
            await until(pilot, lambda: detail(app) is not None, what="the run detail")
            assert detail(app).run.status == "queued"
            await pilot.press("s")
            assert "Scores appear here when the run has finished" in screen_text(app)
            await pilot.press("t")
            worker = xltui_bg("worker", "--db", db, "--cpu", "--exit-when-idle", "--poll", "0.2",
                              log=tmp_path / "worker.log")
            await until(pilot, lambda: "train_loss" in detail(app).series, timeout=180, what="loss points")
            await until(pilot, lambda: detail(app).run.status == "succeeded", timeout=240, what="run done")
            d = detail(app)
            assert {"train_loss", "lr", "dev_score", "total_steps"} <= set(d.series)
            assert d.samples and d.samples[-1][1] > 0  # CPU run: RSS sampled
            assert any("test" in line for line in d.log_tail)
            await pilot.press("s")
            assert app.screen.query_one(TabbedContent).active == "scores"
            text = screen_text(app)
            for words in ("per language", "swa", "yor", "f1 per entity type", "PER", "LOC"):
                assert words in text, text
            await pilot.press("g")
            assert '"seed": 1' in screen_text(app)
            await pilot.press("y")
            assert "memory" in screen_text(app) and "RSS" in screen_text(app)

            await pilot.press("escape")
            app.open_run(bad)
            await until(pilot, lambda: detail(app) is not None and detail(app).run.id == bad, what="broken run")
            await until(pilot, lambda: detail(app).run.status == "failed", timeout=240, what="run failed")
            await pilot.pause(0.5)
            text = screen_text(app)
            assert "Failed:" in text and "Log:" in text and "Traceback" not in text.split("Training")[0]
            log_path = Path(detail(app).log_path)
            assert log_path.exists() and str(log_path) in "".join(text.split())  # the whole path, however wrapped
            await pilot.press("l")
            assert any("xltui-error" in line or "Error" in line for line in app.screen.query_one(Log).lines)

    try:
        run(drive())
    finally:
        stop_worker(worker)


def test_charts_of_long_histories_are_downsampled():
    xs = list(range(100_000))
    ys = [float(x % 7) for x in xs]
    dx, dy = downsample(xs, ys, 300)
    assert len(dx) == 300 and dx[-1] == 99_999 and dy[-1] == ys[-1]
    assert min(dy) >= 0 and max(dy) <= 6
    assert downsample([1, 2], [3, 4]) == ([1, 2], [3, 4])


def test_demo_run_detail_tabs(tmp_path):
    path, ids = demo_db(tmp_path / "demo")

    async def drive() -> None:
        app = demo_app(path)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.snapshot is not None, what="a first snapshot")
            app.open_run(ids["running"])
            await until(pilot, lambda: detail(app) is not None, what="the run detail")
            assert "train loss" in screen_text(app)
            await pilot.press("y")
            assert "memory (GiB)" in screen_text(app)
            await pilot.press("c")  # a running run: asks first
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
            await pilot.press("n")
            assert isinstance(app.screen, RunScreen) and detail(app).run.status == "running"
            await pilot.press("escape")
            assert not isinstance(app.screen, RunScreen)
            app.open_run(ids["failed"])
            await until(pilot, lambda: detail(app) is not None and detail(app).run.id == ids["failed"], what="failed")
            await pilot.press("r")
            await until(pilot, lambda: detail(app).run.status == "queued", what="re-queued")
            assert "Failed:" not in screen_text(app)

    run(drive())
