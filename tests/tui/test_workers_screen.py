"""The workers screen: start a detached worker from the app, watch it take a real run, ask it to
stop gracefully (it finishes that run, leaves the rest queued, and exits), and the devices table."""

from __future__ import annotations

import os
import signal
import sys

import psutil
import pytest
from sqlalchemy import insert, select, update

from engine.gpus import Gpu, GpuError
from engine.settings import TEST_GPUS_ENV, TEST_HOLD_ENV
from engine.store.db import open_db
from engine.store.schema import Attempt, Run, SystemSample, Worker
from tests.support.nvml import StandInNvml, h100
from tests.support.tui import demo_app, demo_db, run, screen_text, until
from tests.support.workers import enqueue_grid
from xltui.app import XltuiApp
from xltui.tui.confirm_dialog import ConfirmScreen
from xltui.tui.demo import GIB, HOST, T0
from xltui.tui.devices import DeviceReader
from xltui.tui.worker_dialog import StartWorkerScreen
from xltui.tui.workers_screen import WorkersScreen


@pytest.mark.slow
def test_start_a_detached_worker_then_stop_it_gracefully_after_its_run(db, tiny_grid, tmp_path, monkeypatch):
    first, second = enqueue_grid(db, tiny_grid(seeds="[1, 2]", train=24, eval=16))
    go = tmp_path / "go"
    monkeypatch.setenv(TEST_HOLD_ENV, f"step:1:{go}")  # run 1 waits at its first step until asked to stop
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
            go.touch()
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


def pack_a_second_run(path: str) -> int:
    """The demo with a second run on cuda:0 beside the running one, as --runs-per-gpu 2 puts it there:
    its first queued MAD-X run, now running, with its own memory samples and its slot's worker row."""
    engine = open_db(path, create=False)
    with engine.begin() as conn:
        run_id = conn.execute(select(Run.id).where(Run.status == "queued", Run.method == "madx")
                              .order_by(Run.id).limit(1)).scalar_one()
        conn.execute(insert(Attempt).values(id=500, run_id=run_id, number=1, worker_id=f"{HOST}:4242:cuda:0#2",
                                            device="cuda:0", started_at=T0 - 60))
        conn.execute(update(Run).where(Run.id == run_id).values(status="running", device="cuda:0", attempt_id=500,
                                                                attempts=1, started_at=T0 - 60,
                                                                worker_id=f"{HOST}:4242:cuda:0#2"))
        conn.execute(insert(SystemSample), [dict(run_id=run_id, attempt_id=500, t=T0 - 60 + 2 * i, device="cuda:0",
                                                 rss_bytes=3 * GIB, gpu_allocated_bytes=int(6.5 * GIB),
                                                 gpu_reserved_bytes=8 * GIB, gpu_peak_bytes=7 * GIB,
                                                 gpu_util_percent=95.0) for i in range(25)])
        conn.execute(insert(Worker).values(id=f"{HOST}:4242:cuda:0#2", host=HOST, pid=4242, device="cuda:0",
                                           started_at=T0 - 3700, heartbeat_at=T0 - 1, current_run_id=run_id,
                                           state="busy", job_id="81234_0", job_index=0))
    return run_id


def test_a_packed_gpu_shows_each_run_and_its_memory(tmp_path):
    path, ids = demo_db(tmp_path / "demo")
    packed = pack_a_second_run(path)

    async def drive() -> None:
        app = demo_app(path)
        async with app.run_test(size=(110, 34)) as pilot:
            await pilot.press("4")
            await until(pilot, lambda: app.snapshot is not None and isinstance(app.screen, WorkersScreen), what="ws")
            await until(pilot, lambda: "2 runs" in screen_text(app), what="the packed GPU")
            text = screen_text(app)
            assert any("cuda:0" in line and "2 runs" in line and "15.5/20.0/17.5 in all" in line
                       for line in text.splitlines()), text
            assert any(f"├ run {ids['running']}" in line and "9.0/12.0/10.5" in line for line in text.splitlines())
            assert any(f"└ run {packed}" in line and "6.5/8.0/7.0" in line for line in text.splitlines())
            assert "cuda:0: 2 runs" in text and "cuda:0#2" in text
            table = app.screen.query_one("#devices")
            table.move_cursor(row=2)  # the second run's own memory history in the charts
            await pilot.pause(0.3)
            assert f"cuda:0, run {packed}" in screen_text(app)

    run(drive())


def test_run_detail_shows_the_runs_speed_and_mfu(tmp_path):
    path, ids = demo_db(tmp_path / "demo")

    async def drive() -> None:
        app = demo_app(path)
        async with app.run_test(size=(140, 50)) as pilot:
            await until(pilot, lambda: app.snapshot is not None, what="a snapshot")
            app.open_run(ids["succeeded"])
            await until(pilot, lambda: getattr(app.screen, "detail", None) is not None, what="the run detail")
            await pilot.press("s")
            await pilot.pause(0.3)
            text = screen_text(app)
            for words in ("tok/s · MFU", "speed and memory", "model FLOPs utilisation", "peak GPU memory",
                          "10.50 GiB", "278.0 M", "runs sharing its GPU"):
                assert words in text, words

    run(drive())


def test_an_nvml_error_is_said_and_the_gpus_probed_again(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """The app's own probe (engine.gpus) on an NVIDIA library that fails once, then works: the workers
    screen says what failed and when it probes again, then shows the GPUs — not switched off for good."""
    path, _ = demo_db(tmp_path / "demo")
    monkeypatch.delenv(TEST_GPUS_ENV, raising=False)
    lib = StandInNvml([h100(used_gib=31.5, util=87.0), h100(name="NVIDIA H100 NVL", util=3.0)],
                      init_errors=[StandInNvml.NVML_ERROR_UNKNOWN])
    monkeypatch.setitem(sys.modules, "pynvml", lib)

    async def drive() -> None:
        app = XltuiApp(path, clock=lambda: T0, poll_s=0.3)  # the default probe: NVML through engine.gpus
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("4")
            await until(pilot, lambda: app.snapshot is not None and isinstance(app.screen, WorkersScreen), what="ws")
            await until(pilot, lambda: "GPUs not read: NVML nvmlInit failed: Unknown Error" in screen_text(app),
                        what="the failure said")
            text = screen_text(app)
            assert "probing again in" in text and "NVIDIA H100 NVL" not in text
            assert app.snapshot.gpu_error is not None
            await until(pilot, lambda: "NVIDIA H100 NVL" in screen_text(app), timeout=15, what="the GPUs probed again")
            await until(pilot, lambda: "GPUs not read" not in screen_text(app), what="the failure line gone")
            text = screen_text(app)
            assert "cuda:1" in text and "87%" in text and "31.5/80.0" in text
            assert app.snapshot.gpu_error is None
            assert lib.inits == 2  # one failed start, one that worked and is kept

    run(drive())


def test_a_failing_probe_backs_off_and_keeps_what_it_still_read():
    """DeviceReader's schedule on a clock the test moves: 2 s after the first failure, doubling to a
    minute while it keeps failing; the GPUs a partial failure still read stay; one success clears it."""
    now = [0.0]
    good = Gpu("0", "NVIDIA H100 80GB HBM3", 80 * GIB, 70 * GIB)
    answers: list = [GpuError("NVML GPU 1: nvmlDeviceGetMemoryInfo failed: GPU is lost", [good])] * 7
    answers += [RuntimeError("driver went away")]
    both = [good, Gpu("1", "NVIDIA H100 80GB HBM3", 80 * GIB, 80 * GIB)]
    calls: list[float] = []

    def probe():
        calls.append(now[0])
        answer = answers.pop(0) if answers else both
        if isinstance(answer, Exception):
            raise answer
        return answer

    devices = DeviceReader(probe, clock=lambda: now[0])
    assert [g.id for g in devices.gpus()] == ["0"]
    assert devices.gpu_error == "GPUs not read: NVML GPU 1: nvmlDeviceGetMemoryInfo failed: GPU is lost; probing again in 2 s"
    now[0] = 1.0
    assert [g.id for g in devices.gpus()] == ["0"] and calls == [0.0]  # held, not probed, during the back-off
    assert devices.gpu_error.endswith("GPU is lost; probing again in 1 s")
    while answers:
        now[0] += 0.5
        devices.gpus()
    assert calls == [0.0, 2.0, 6.0, 14.0, 30.0, 62.0, 122.0, 182.0]  # waits 2, 4, 8, 16, 32, 60, 60
    assert devices.gpu_error == "GPUs not read: RuntimeError: driver went away (8 times in a row); probing again in 60 s"
    assert devices.gpus() == [] and len(calls) == 8  # an error without GPUs read shows none
    now[0] = 242.0
    assert devices.gpus() == both and devices.gpu_error is None
    now[0] = 242.5
    assert devices.gpus() == both and len(calls) == 10  # back to a probe per poll


def test_a_probe_error_from_elsewhere_is_said_in_words():
    devices = DeviceReader(lambda: (_ for _ in ()).throw(RuntimeError("driver went away")), clock=lambda: 5.0)
    assert devices.gpus() == []
    assert devices.gpu_error == "GPUs not read: RuntimeError: driver went away; probing again in 2 s"
    devices.gpus()
    assert devices.gpu_error == "GPUs not read: RuntimeError: driver went away; probing again in 2 s"
