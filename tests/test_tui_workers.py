"""The workers screen: start a detached worker from the app, watch it take a real run, ask it to
stop gracefully (it finishes that run, leaves the rest queued, and exits), and the devices table."""

from __future__ import annotations

import os
import signal

import psutil

from tests.test_worker import enqueue_grid
from tests.tui_support import demo_app, demo_db, run, screen_text, until
from xltui.app import XltuiApp
from xltui.tui.dialogs import ConfirmScreen, StartWorkerScreen
from xltui.tui.workers_screen import WorkersScreen


def test_start_a_detached_worker_then_stop_it_gracefully_after_its_run(db, tiny_grid, tmp_path):
    first, second = enqueue_grid(db, tiny_grid(seeds="[1, 2]", train=24, eval=16))
    pids: list[int] = []

    async def drive() -> None:
        app = XltuiApp(db, poll_s=0.3, gpu_probe=None)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("4")
            await until(pilot, lambda: isinstance(app.screen, WorkersScreen), what="the workers screen")
            await until(pilot, lambda: app.snapshot is not None, what="a snapshot")
            assert "press n to start one" in screen_text(app)
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, StartWorkerScreen), what="the dialog")
            assert "No GPU is visible" in screen_text(app)
            await pilot.click("#start")
            await until(pilot, lambda: app.snapshot.workers, timeout=60, what="a live worker")
            pids.append(app.snapshot.workers[0].pid)
            await until(pilot, lambda: app.snapshot.workers[0].current_run_id == first, timeout=60, what="busy")
            assert "busy" in screen_text(app)
            await pilot.press("x")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
            await pilot.press("y")
            await until(pilot, lambda: app.snapshot.workers and app.snapshot.workers[0].state == "stopping",
                        timeout=30, what="stopping")
            await until(pilot, lambda: not app.snapshot.workers, timeout=240, what="the worker gone")
            assert app.snapshot.by_id[first].status == "succeeded"  # it finished the run it had
            assert app.snapshot.by_id[second].status == "queued"  # and took no more
            await until(pilot, lambda: not psutil.pid_exists(pids[0]) or
                        psutil.Process(pids[0]).status() == psutil.STATUS_ZOMBIE, timeout=30, what="exit")

    try:
        run(drive())
    finally:
        for pid in pids:
            if psutil.pid_exists(pid):
                os.kill(pid, signal.SIGTERM)


def test_devices_and_workers_of_the_demo(tmp_path):
    path, ids = demo_db(tmp_path / "demo")

    async def drive() -> None:
        app = demo_app(path)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("4")
            await until(pilot, lambda: app.snapshot is not None and isinstance(app.screen, WorkersScreen), what="ws")
            await pilot.pause(0.3)
            text = screen_text(app)
            for words in ("gpu-box", "busy", "idle", "cuda:0", "NVIDIA H100", "87%", "31.5/80.0", "9.0/12.0/10.5",
                          "memory (GiB)"):
                assert words in text, words
            await pilot.press("n")
            await until(pilot, lambda: isinstance(app.screen, StartWorkerScreen), what="the dialog")
            await pilot.click("#start")  # nothing chosen: the dialog says so and stays
            assert "Choose at least one GPU" in screen_text(app)
            await pilot.press("escape")
            assert isinstance(app.screen, WorkersScreen)

    run(drive())
