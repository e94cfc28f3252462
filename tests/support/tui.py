"""Helpers for the TUI tests: a demo database, waiting on the app, the screen as text."""

from __future__ import annotations

import asyncio
import io
import shutil
import signal
import time
from pathlib import Path
from typing import Awaitable, Callable

from rich.console import Console

from engine.store.db import open_db
from xltui.app import XltuiApp
from xltui.tui.demo import T0, build_demo, demo_gpus

SNAPSHOT_ROOT = Path("/tmp/xltui-snapshot-db")  # fixed: the database path is part of every screen


def demo_db(root: Path = SNAPSHOT_ROOT) -> tuple[str, dict[str, int]]:
    """A fresh demo database under ``root`` and the ids of its running / failed / succeeded runs."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    path = str(root / "experiments.db")
    return path, build_demo(open_db(path), root)


def demo_app(path: str, **kw) -> XltuiApp:
    """The app on the demo database as of the demo's "now" (so durations and ages never move)."""
    return XltuiApp(path, clock=lambda: T0, gpu_probe=demo_gpus, **kw)


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # no pytest-asyncio here: each test drives its own loop


async def until(pilot, predicate: Callable[[], object], timeout: float = 30.0, what: str = "") -> object:
    """Let the app run until ``predicate()`` holds (the poll is asynchronous)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await pilot.pause(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


async def switch_to(pilot, key: str, screen: type) -> object:
    """Press a screen's key and wait until that screen shows, composed and mounted: a key pressed
    while the app still loads is remembered and followed once it has loaded (a loaded machine makes
    that a while), and a new mode's screen is current before its widgets are there."""
    await pilot.press(key)
    return await until(pilot, lambda: isinstance(pilot.app.screen, screen) and pilot.app.screen.is_mounted
                       and pilot.app.screen, what=f"the {screen.__name__} after {key!r}")


def stop_worker(worker) -> None:
    """SIGTERM a background worker a test started (it stops gracefully) and wait for it."""
    if worker is not None and worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)


def screen_text(app) -> str:
    """What the terminal shows, as plain text."""
    w, h = app.size
    console = Console(width=w, height=h, file=io.StringIO(), force_terminal=True, color_system="truecolor",
                      record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text(styles=False)
