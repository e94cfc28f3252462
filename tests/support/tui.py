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


def app_in(folder: Path) -> XltuiApp:
    """The app as a user starts it in ``folder``: its database is ./experiments.db there."""
    return XltuiApp(str(folder / "experiments.db"), gpu_probe=None)


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


def rendered(renderable, width: int) -> str:
    """A rich renderable as plain text at ``width`` columns."""
    console = Console(file=io.StringIO(), width=width, no_color=True, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def widget_text(widget) -> str:
    """The text a Static shows, at its width (rich tables and Text alike)."""
    return rendered(widget.content, max(widget.size.width, 40))


async def type_into(pilot, selector: str, text: str) -> None:
    """Scroll to a field, click it, clear it (Home, Ctrl+K) and type, as a user would."""
    pilot.app.screen.query_one(selector).scroll_visible(animate=False)
    await pilot.pause()
    await pilot.click(selector)
    await pilot.press("home", "ctrl+k", *text)


async def tick(pilot, screen, selector: str, values: list[str]) -> None:
    """Move through a selection list with the arrow keys and tick ``values`` with Space."""
    from textual.widgets import SelectionList

    widget = screen.query_one(selector, SelectionList)
    widget.focus()
    await pilot.pause()
    order = [widget.get_option_at_index(i).value for i in range(widget.option_count)]
    await pilot.press("home")
    at = 0
    for value in sorted(values, key=order.index):
        await pilot.press(*["down"] * (order.index(value) - at), "space")
        at = order.index(value)
