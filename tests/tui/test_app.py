"""The app shell: light start-up, `xltui` with no arguments, modes, help, palette, errors in words,
and a reopened app showing exactly what the closed one showed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.tui import demo_app, demo_db, run, screen_text, until
from xltui.tui.help_screen import HelpScreen

LIGHT = """
import sys, time
t = time.perf_counter()
import xltui.app, xltui.cli
heavy = [m for m in ("torch", "transformers", "adapters", "datasets", "plotext") if m in sys.modules]
assert not heavy, heavy
engine = [m for m in ("sqlmodel", "sqlalchemy", "pydantic", "engine.store", "engine.spec") if m in sys.modules]
assert not engine, engine  # the frame paints first; the engine loads behind it
widgets = [m for m in ("textual.widgets._data_table",) if m in sys.modules]
assert not widgets, widgets  # the first frame has a bare Textual app's widgets only
print(f"light {time.perf_counter() - t:.2f}")
"""


def test_importing_the_app_leaves_torch_unimported():
    out = subprocess.run([sys.executable, "-c", LIGHT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("light"), out.stderr


def test_the_poll_reader_is_free_of_textual():
    code = "import sys, xltui.tui.snapshot, xltui.tui.demo; assert 'textual' not in sys.modules; print('pure')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "pure", out.stderr


def test_xltui_without_arguments_opens_the_app_on_the_given_database(monkeypatch, tmp_path):
    import xltui.app
    from xltui.cli import app

    opened = []
    monkeypatch.setattr(xltui.app.XltuiApp, "run", lambda self: opened.append(self.db_url))
    db = tmp_path / "x.db"
    assert CliRunner().invoke(app, ["--db", str(db)]).exit_code == 0
    monkeypatch.setenv("XLTUI_DB", str(tmp_path / "env.db"))
    assert CliRunner().invoke(app, []).exit_code == 0
    assert opened == [f"sqlite:///{db}", f"sqlite:///{tmp_path / 'env.db'}"]
    help_out = CliRunner().invoke(app, ["--help"])
    assert help_out.exit_code == 0 and "status" in help_out.output and opened == opened[:2]


def test_a_database_of_another_kind_is_an_error_in_words(tmp_path):
    bad = tmp_path / "not.db"
    bad.write_text("this is not sqlite")
    out = subprocess.run([sys.executable, "-m", "xltui.cli", "--db", str(bad)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "Traceback" not in out.stderr


def test_keys_switch_screens_help_lists_them_and_the_palette_has_every_action(tmp_path):
    path, _ = demo_db(tmp_path / "demo")

    async def drive() -> None:
        app = demo_app(path)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app.snapshot is not None, what="a first snapshot")
            assert app.current_mode == "queue"
            await pilot.press("4")
            assert app.current_mode == "workers"
            await pilot.press("1")
            assert app.current_mode == "queue"
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            text = screen_text(app)
            for words in ("Cancel the marked runs", "Queue failed or cancelled runs again", "Run sooner",
                          "Open the results of the study", "Show only runs matching words"):
                assert words in text
            await pilot.press("escape")
            titles = {c.title for c in app.get_system_commands(app.screen)}
            for title in ("Filter", "Sort", "Cancel", "Retry", "Priority+", "Priority−", "Results", "Open run",
                          "Mark", "Go to workers screen", "Go to compose screen", "Help", "Quit"):
                assert title in titles, sorted(titles)

    run(drive())


@pytest.mark.parametrize("mode", ["compose", "results"])
def test_the_other_screens_open_when_present(tmp_path, mode):
    pytest.importorskip({"compose": "xltui.tui.composer", "results": "xltui.tui.results_screen"}[mode])
    path, _ = demo_db(tmp_path / "demo")

    async def drive() -> None:
        app = demo_app(path)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("2" if mode == "compose" else "3")
            await pilot.pause(0.2)
            assert app.current_mode == mode

    run(drive())


def test_a_failing_poll_becomes_a_notification_not_a_traceback(tmp_path, monkeypatch):
    from xltui.tui.snapshot import SnapshotReader

    path, _ = demo_db(tmp_path / "demo")

    async def drive() -> None:
        app = demo_app(path)

        def broken(self, **_kw):
            raise OSError("disk I/O error")

        monkeypatch.setattr(SnapshotReader, "read", broken)
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: app._notifications, what="a notification")
            note = list(app._notifications)[0]
            assert "cannot read the database" in note.message and "disk I/O error" in note.message
            assert note.severity == "error"
            await until(pilot, lambda: app.current_mode == "queue", what="the queue screen after a failed read")
            assert app.is_running

    run(drive())


async def steady_text(pilot, app, timeout: float = 20.0) -> str:
    """The screen once it has stopped changing (charts and tables fill in over a few refreshes;
    on a loaded machine more slowly than a fixed pause allows)."""
    deadline = time.monotonic() + timeout
    text = screen_text(app)
    while time.monotonic() < deadline:
        await pilot.pause(0.4)
        again = screen_text(app)
        if again == text:
            return text
        text = again
    return text


@pytest.mark.slow
def test_a_reopened_app_shows_exactly_the_same_state(tmp_path):
    """As after a dropped SSH link: everything on screen comes from the database."""
    path, ids = demo_db(tmp_path / "demo")
    shots: list[tuple[str, str, str]] = []

    async def session() -> None:
        app = demo_app(path)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.snapshot is not None, what="a first snapshot")
            queue = await steady_text(pilot, app)
            app.open_run(ids["running"])
            await until(pilot, lambda: getattr(app.screen, "detail", None) is not None, what="the run detail")
            detail = await steady_text(pilot, app)
            await pilot.press("escape", "4")
            shots.append((queue, detail, await steady_text(pilot, app)))

    run(session())
    run(session())
    assert shots[0] == shots[1]
    assert "45% loss" in shots[0][0] and "running" in shots[0][1] and "gpu-box" in shots[0][2]


def hold_the_first_read(monkeypatch):
    """A database on a slow disk or far away: its first read waits until the returned event is set."""
    import threading

    import engine.store.reader

    release = threading.Event()
    real_check = engine.store.reader.current_sqlite_file

    def slow_check(*args, **kwargs):
        assert release.wait(30)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(engine.store.reader, "current_sqlite_file", slow_check)
    return release


def test_the_frame_paints_while_the_engine_loads_and_a_key_pressed_meanwhile_is_followed(tmp_path, monkeypatch):
    from xltui.tui.loading_screen import LoadingScreen

    path, _ = demo_db(tmp_path / "demo")
    release = hold_the_first_read(monkeypatch)

    async def drive() -> None:
        app = demo_app(path)
        async with app.run_test(size=(160, 30)) as pilot:  # wide: the header holds the whole temporary path
            await pilot.pause(0.3)
            assert isinstance(app.screen, LoadingScreen) and app.engine is None
            text = screen_text(app)
            for words in ("xltui", "study", "succeeded", "loading", "Quit"):  # header, table head, state, footer
                assert words in text, text
            assert str(tmp_path / "demo") in text  # which database it is opening
            await pilot.press("4")  # remembered, not lost
            release.set()
            await until(pilot, lambda: app.snapshot is not None, what="the first snapshot")
            assert app.current_mode == "workers"

    run(drive())


def test_before_the_first_frame_only_its_own_styles_are_parsed_and_none_twice(tmp_path, monkeypatch):
    """What kept the first frame behind a bare Textual app's (bench/tui_start.py): every screen's
    styles parsed before it, and every stylesheet re-parsed twice (setting the theme, then Textual's
    CSS refresh of a first mode). The rest of the styles come with the engine, before any screen
    that needs them."""
    from textual.css.stylesheet import Stylesheet

    from xltui.app import APP_CSS

    reparsed = []
    real_reparse = Stylesheet.reparse
    monkeypatch.setattr(Stylesheet, "reparse", lambda self: (reparsed.append(1), real_reparse(self))[1])
    path, _ = demo_db(tmp_path / "demo")
    release = hold_the_first_read(monkeypatch)

    def style_files(app) -> set[str]:
        return {Path(file).name for file, _ in app.stylesheet.source if file.endswith(".tcss")}

    async def drive() -> None:
        app = demo_app(path)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause(0.3)
            assert "Quit" in screen_text(app)
            assert style_files(app) == {"frame.tcss"} and reparsed == [] and app.current_theme.name == "nord"
            release.set()
            await until(pilot, lambda: app.snapshot is not None, what="the first snapshot")
            assert style_files(app) == {"frame.tcss", APP_CSS.name}

    run(drive())


def test_a_database_that_cannot_be_opened_ends_the_app_with_its_error(tmp_path):
    bad = tmp_path / "not.db"
    bad.write_text("this is not sqlite")

    async def drive() -> None:
        app = demo_app(str(bad))
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: app.startup_error is not None, what="the start-up error")
        assert app.return_code == 2
        assert "is not an xltui database" in app.startup_error and str(bad) in app.startup_error

    run(drive())


APP_PATH_LIGHT = """
import sys
from xltui.launch import app_only
import xltui.app, xltui.entry
assert app_only([]) == (True, None) and app_only(["--db", "x.db"]) == (True, "x.db")
assert app_only(["--db=pg://h/d"]) == (True, "pg://h/d")
for argv in (["status"], ["--db", "x.db", "status"], ["--help"], ["--db"], ["--db", "--help"]):
    assert app_only(argv) == (False, None), argv
heavy = [m for m in ("typer", "pydantic", "sqlmodel", "sqlalchemy") if m in sys.modules]
assert not heavy, heavy
print("light")
"""


def test_xltui_alone_opens_the_app_without_typer_or_the_engine_and_commands_still_parse(tmp_path):
    out = subprocess.run([sys.executable, "-c", APP_PATH_LIGHT], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "light", out.stderr
    bad = tmp_path / "not.db"
    bad.write_text("this is not sqlite")
    out = subprocess.run([sys.executable, "-m", "xltui", "--db", str(bad)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and out.stderr.startswith("error: ") and "not an xltui database" in out.stderr
    out = subprocess.run([sys.executable, "-m", "xltui", "status", "--db", str(tmp_path / "none.db")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "no database at" in out.stderr  # a command goes through the Typer CLI
