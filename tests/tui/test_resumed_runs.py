"""A resumed run in the app: its curves go on across attempts (redone points drawn once), the run
detail lists where it resumed, and the run list says so — all read from a real database written as
run processes write it."""

from __future__ import annotations

from engine.spec import Outcome
from engine.store import queue
from engine.store.live_reads import run_series
from engine.store.queue_reads import Resume
from engine.store.reader import reader_of
from engine.store.telemetry import MetricWriter
from tests.support.resumed_runs import TOTAL_STEPS, build_resumed_run, log_steps, mark_resumed
from tests.support.tui import run, screen_text, until
from xltui.app import XltuiApp
from xltui.tui.run_screen import RunScreen
from xltui.tui.runlist import RunList
from xltui.tui.snapshot import SnapshotReader, downsample


def chart_of(engine, run_id: int, name: str) -> tuple[list[float], list[float]]:
    """What the detail should draw: the store's one-off read of the whole story, downsampled."""
    with reader_of(engine) as reader:
        points = run_series(reader, run_id, name)
    return downsample([s for s, _ in points], [v for _, v in points])


def test_the_detail_reads_one_story_and_keeps_it_as_attempts_go_on_and_resume(db):
    r = build_resumed_run(db)
    reader = SnapshotReader(r.engine, clock=lambda: 0.0)
    reader.read()
    detail = reader.read(detail_run_id=r.run_id).detail
    assert detail.series["dev_score"] == ([100, 200, 300, 400, 500], [1.01, 2.02, 2.03, 3.04, 3.05])
    assert detail.series["train_loss"] == chart_of(r.engine, r.run_id, "train_loss")
    assert detail.resumes == [Resume(2, 200, 50, TOTAL_STEPS), Resume(3, 400, 50, TOTAL_STEPS)]
    assert reader.read().by_id[r.run_id].resume == Resume(3, 400, 50, TOTAL_STEPS)

    writer = MetricWriter(r.engine, r.run_id, r.claim.attempt_id)  # attempt 3 goes on: the curve is extended
    log_steps(writer, 3, 501, 560)
    writer.close()
    detail = reader.read(detail_run_id=r.run_id).detail
    assert detail.series["train_loss"] == chart_of(r.engine, r.run_id, "train_loss")
    assert detail.series["dev_score"][0][-1] == 500

    assert queue.finish(r.engine, r.claim, "w", Outcome.REQUEUED)  # preempted; attempt 4 resumes at 520
    claim = queue.claim_next(r.engine, "w", "cpu")
    snap = reader.read(detail_run_id=r.run_id)
    assert snap.by_id[r.run_id].resume is None  # claimed, its state not loaded yet
    mark_resumed(r.engine, claim, 520, 40)  # only the attempt row changes, not the run's
    writer = MetricWriter(r.engine, r.run_id, claim.attempt_id)
    writer.log(0, total_steps=TOTAL_STEPS)
    log_steps(writer, 4, 521, 530)
    writer.close()
    snap = reader.read(detail_run_id=r.run_id)
    assert snap.by_id[r.run_id].resume == Resume(4, 520, 40, TOTAL_STEPS)
    steps, values = snap.detail.series["train_loss"]
    assert (steps, values) == chart_of(r.engine, r.run_id, "train_loss")
    assert steps[-1] == 530 and values[-1] == 4.053  # attempt 4's, not attempt 3's 3.053
    assert [x.attempt for x in snap.detail.resumes] == [2, 3, 4]
    fresh = SnapshotReader(r.engine, clock=lambda: 0.0)  # what a reopened app reads at once
    fresh.read()
    assert fresh.read(detail_run_id=r.run_id).detail.series == snap.detail.series
    reader.close()
    fresh.close()


def test_the_run_list_and_the_run_detail_say_where_the_run_resumed(db):
    r = build_resumed_run(db)
    words = "resumed at step 400 of 600 (attempt 3)"

    async def drive() -> None:
        app = XltuiApp(db, poll_s=0.3, gpu_probe=None)
        async with app.run_test(size=(160, 40)) as pilot:  # room for the whole progress cell
            await until(pilot, lambda: app.snapshot is not None and isinstance(app.screen.focused, RunList),
                        what="the run list")
            runs = app.screen.query_one(RunList)
            await until(pilot, lambda: runs.view and runs.view[0].resume is not None, what="the run's resume")
            text = screen_text(app)
            assert f"run {r.run_id} {words}" in text, text  # the line under the list, for the run under the cursor
            assert f"83% loss 3.050 · {words}" in text, text  # its row
            app.open_run(r.run_id)
            await until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.detail is not None
                        and app.screen.detail.resumes, what="the run detail")
            await pilot.pause()
            flat = "".join(screen_text(app).split())  # the title wraps wherever the width puts it
            for line in (words, "attempt 2 resumed at step 200 of 600 (redid 50 steps)",
                         "attempt 3 resumed at step 400 of 600 (redid 50 steps)"):
                assert "".join(line.split()) in flat, screen_text(app)

    run(drive())
