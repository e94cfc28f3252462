"""The Textual app: one mode per user task, a DB poll worker feeding every screen.

The app never trains and never imports torch: it reads the database in a
thread worker about once a second (``SnapshotReader``) and posts a
``SnapshotTaken`` message to the active screen; every change it makes goes
through ``engine.store.queue`` in a thread worker too, so a busy database can never
freeze a key press.

First paint comes before the engine: ``import xltui.app`` imports Textual and nothing
of the engine, the first screen (``LoadingScreen``) is the frame of the queue screen,
empty and loading, and a thread imports the engine, opens the database and the queue
screen's code, then swaps it in and starts the poll. Until then the app costs what a bare
Textual app costs: the frame has only a bare app's widgets, ``tui/frame.tcss`` is the only
stylesheet parsed before it (``tui/app.tcss`` is read when the engine has loaded), and
neither the theme nor a mode makes Textual re-parse its CSS before it paints
(``bench/tui_start.py`` compares the two). A database that cannot be opened ends the app
with the one-line error (``startup_error``) and exit status 2.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from textual.app import App, ScreenStackError, SystemCommand
from textual.binding import Binding
from textual.reactive import Reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from engine.settings import db_url_of, scrub, shown_db
from xltui.tui.loading_screen import LoadingScreen

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from xltui.tui.devices import GpuProbe
    from xltui.tui.messages import SnapshotTaken
    from xltui.tui.snapshot import Snapshot, SnapshotReader

THEME = "nord"
APP_CSS = Path(__file__).parent / "tui" / "app.tcss"
FRAME_WAIT_S = 0.5  # the longest the loader waits for the first frame's footer keys
NVML = "nvml"  # the default GPU probe, resolved when the engine is loaded


def _queue_screen() -> Screen:
    from xltui.tui.queue_screen import QueueScreen

    return QueueScreen()


def _compose_screen() -> Screen:
    from xltui.tui.composer import ComposerScreen

    return ComposerScreen()


def _results_screen() -> Screen:
    from xltui.tui.results_screen import ResultsScreen

    return ResultsScreen()


def _workers_screen() -> Screen:
    from xltui.tui.workers_screen import WorkersScreen

    return WorkersScreen()


class XltuiApp(App):
    """Studies and queue, composer, results, workers: keys 1–4, ``?`` for help."""

    TITLE = "xltui"
    # the theme's default rather than ``self.theme = THEME`` in __init__: setting it made Textual
    # re-parse and re-apply every stylesheet twice before the first frame (its theme watcher, then
    # the CSS refresh of the first mode)
    theme: Reactive[str] = Reactive(THEME)
    CSS_PATH = "tui/frame.tcss"  # the first frame's; the rest (tui/app.tcss) is read once the engine has loaded
    MODES = {"queue": _queue_screen, "compose": _compose_screen, "results": _results_screen,
             "workers": _workers_screen}
    BINDINGS = [
        Binding("1", "switch_mode('queue')", "Queue", tooltip="Studies and the run queue"),
        Binding("2", "switch_mode('compose')", "Compose", tooltip="Compose a grid and enqueue it"),
        Binding("3", "switch_mode('results')", "Results", tooltip="Results and significance tables"),
        Binding("4", "switch_mode('workers')", "Workers", tooltip="Workers and GPUs"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="Keys of this screen"),
        Binding("q", "quit", "Quit", tooltip="Leave the app; workers keep running"),
    ]

    def __init__(self, db_url: str, *, clock: Callable[[], float] | None = None, poll_s: float = 1.0,
                 gpu_probe: GpuProbe | str | None = NVML, **kwargs) -> None:
        super().__init__(**kwargs)
        self.db_url: str = db_url_of(db_url)
        self.shown_db = shown_db(self.db_url)
        self.clock = clock
        self.poll_s = poll_s
        self._gpu_probe = gpu_probe
        self._engine: Engine | None = None  # set by the loader thread (see ``engine``)
        self._engine_opened = threading.Event()
        self.reader: SnapshotReader | None = None
        self.ready = threading.Event()
        self.startup_error: str | None = None
        self._wanted_mode = "queue"  # where a key pressed while loading goes once loaded
        self.snapshot: Snapshot | None = None
        self._poke = threading.Event()  # poll now (after an action changed the DB)
        self._handled = threading.Event()  # back-pressure: one snapshot in flight at a time
        self._handled.set()
        self._closing = False

    def get_default_screen(self) -> Screen:
        """The loading frame, in Textual's default mode: a screen of MODES re-parses and re-applies
        every stylesheet when it is first shown (Textual's CSS refresh of a new mode), which would
        come before the first frame; the queue screen pays that once the data is read."""
        return LoadingScreen()

    # -- polling ------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self._mounted_at = time.monotonic()
        self.call_after_refresh(self._start_loading)

    def _start_loading(self, painted: bool = False) -> None:
        """Start the loader thread once the whole first frame is on screen.

        The footer fills in its keys a refresh or two after it mounts, and a thread importing the
        engine meanwhile (imports hold the GIL) delayed that frame (~0.05 s in tmux on a busy
        2-core box; starting it at on_load delayed it too and brought the data no sooner). So:
        wait until the keys are there, then for one more refresh (they are painted); at most
        ``FRAME_WAIT_S`` (a footer shows no keys while the terminal has no focus).
        """
        if not painted and time.monotonic() - self._mounted_at < FRAME_WAIT_S:
            if self.screen.query("FooterKey"):
                self.call_after_refresh(self._start_loading, painted=True)
            else:
                self.set_timer(0.005, self._start_loading)
            return
        self.run_worker(self._load, thread=True, group="poll", name="poll", exit_on_error=False)

    def _load(self) -> None:
        """Off the UI thread: open the database, read the first snapshot, then go on polling.

        A SQLite file with the current schema is read through ``sqlite3`` at once and the
        engine (SQLAlchemy, ~0.3 s to import) is opened after the data is on screen, for the
        screens' actions; anything else (a new or old file, a server) is opened first.
        """
        from engine.store.reader import SqliteReader, current_sqlite_file

        path = current_sqlite_file(self.db_url)
        if path is None and not self._open_engine():
            return
        from xltui.tui import queue_screen  # noqa: F401 - its import cost is paid here, not on the UI thread
        from xltui.tui.devices import nvml_gpus
        from xltui.tui.snapshot import SnapshotReader

        probe = nvml_gpus if self._gpu_probe == NVML else self._gpu_probe
        if self.reader is None:
            source = (lambda: SqliteReader(path)) if path is not None else self._engine
            self.reader = SnapshotReader(source, clock=self.clock, gpu_probe=probe)  # type: ignore[arg-type]
        # the first snapshot is read here, before the queue screen mounts: read while the UI thread
        # renders, it took 3x as long (the two share the GIL) and the data came ~0.2 s later
        first = self._read_snapshot(failing=False)
        self.call_from_thread(self._loaded)
        if first is not None:
            self._post(first)
        if self._engine is None:
            self._handled.wait(5.0)  # after the data is painted: importing SQLAlchemy meanwhile would slow it
            if not self._open_engine():
                return
        self._poke.wait(self.poll_s)
        self._poke.clear()
        self._poll_loop(failing=first is None)  # this thread goes on as the poll loop

    def _open_engine(self) -> bool:
        """Open (create, upgrade) the database for writes; on failure end the app with the reason."""
        from engine.store.db import StoreError, open_db

        try:
            self._engine = open_db(self.db_url, create=True)
        except StoreError as exc:  # already one line naming the database and what is wrong
            self.startup_error = scrub(str(exc), self.db_url)
        except Exception as exc:  # a database that breaks on opening: still words, not a traceback
            self.startup_error = f"cannot open {self.shown_db}: {exc.__class__.__name__}: {scrub(str(exc), self.db_url)}"
        self._engine_opened.set()
        if self.startup_error is not None:
            self.call_from_thread(self.exit, return_code=2)
            return False
        return True

    @property
    def engine(self) -> Engine | None:
        """The opened database for the screens' actions: None while loading; once the first data is
        on screen it may still be opening (well under a second), and this waits for it."""
        if self.ready.is_set():
            self._engine_opened.wait(60)
        return self._engine

    async def _loaded(self) -> None:
        if not self.is_running:  # the app began to close while the first read ran (a quick quit,
            return  # or a test done at its first notification): a new mode now breaks the shutdown
        self._read_app_css()
        self.ready.set()
        await self.switch_mode(self._wanted_mode)  # mounted before the first snapshot is posted to it

    def _read_app_css(self) -> None:
        """The styles of every screen and dialog, before the first of them mounts (as Textual reads a
        screen's CSS_PATH): parsing and applying them before the first frame delayed it."""
        if APP_CSS in self.css_path:
            return
        self.css_path.append(APP_CSS)  # listed with the app's CSS files, as if it were in CSS_PATH
        self.stylesheet.read(APP_CSS)
        self.stylesheet.parse()  # only the new file: the others' rules are cached
        self.stylesheet.update(self)

    async def action_switch_mode(self, mode: str) -> None:
        """Keys 1–4; while the engine loads, remembered and followed when it is ready."""
        if not self.ready.is_set():
            self._wanted_mode = mode
            return
        await super().action_switch_mode(mode)

    def _poll_loop(self, failing: bool = False) -> None:
        """Read a snapshot about once a second (at once after ``poke``), never two in flight."""
        worker = get_current_worker()
        while not (worker.is_cancelled or self._closing):
            self._handled.wait(5.0)
            if worker.is_cancelled or self._closing:
                break
            snap = self._read_snapshot(failing)
            failing = snap is None
            if snap is not None:
                self._post(snap)
            self._poke.wait(self.poll_s)
            self._poke.clear()

    def _read_snapshot(self, failing: bool) -> Snapshot | None:
        """One read; a failure is said in words once (not again while it keeps failing) and gives None."""
        try:
            detail = getattr(self.screen, "detail_run_id", None) if self.is_running else None
            return self.reader.read(detail_run_id=detail)  # type: ignore[union-attr]
        except Exception as exc:  # shown in words; the next poll tries again
            if not failing:
                from engine.store.db import safe_url

                self.call_from_thread(self.notify, f"cannot read the database ({exc.__class__.__name__}: "
                                      f"{scrub(str(exc), self.db_url)[:200]}); check {safe_url(self.db_url)}",
                                      title="Database",
                                      severity="error", timeout=8)
            return None

    def _post(self, snap: Snapshot) -> None:
        from xltui.tui.messages import SnapshotTaken

        self._handled.clear()
        self.post_message(SnapshotTaken(snap))

    def on_unmount(self) -> None:
        """Wake the poll thread so it ends now, not after its sleep (the process waits for it)."""
        self._closing = True
        self._poke.set()
        self._handled.set()

    def poke(self) -> None:
        """Poll now rather than within a second (after a queue change)."""
        self._poke.set()

    def on_snapshot_taken(self, message: SnapshotTaken) -> None:
        self.snapshot = message.snapshot
        try:
            screen = self.screen
        except ScreenStackError:  # read while the app closed: its screens are gone already
            self._handled.set()
            return
        try:
            screen.post_message(type(message)(message.snapshot))
        finally:  # the next read waits until this one is on screen (never a backlog of snapshots)
            self.call_after_refresh(self._handled.set)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A thread worker that raised: say so in words, never a traceback."""
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.notify(f"{event.worker.name or 'background task'} failed: {error.__class__.__name__}: {error}",
                        severity="error", timeout=10)

    # -- actions shared by every screen ---------------------------------------------------------
    def open_results(self, study: str | None) -> None:
        """Show the Results screen, on ``study`` if given (the queue screen's ``o`` key)."""
        mounted = self.switch_mode("results")
        if study is not None:
            screen = self.screen

            async def select() -> None:
                await mounted  # the screen has composed its widgets
                screen.select_study(study)

            self.call_later(select)

    def open_run(self, run_id: int) -> None:
        """Push the run detail screen on top of the current one."""
        from xltui.tui.run_screen import RunScreen

        self.push_screen(RunScreen(run_id))
        self.poke()

    def action_help(self) -> None:
        from xltui.tui.help_screen import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def in_background(self, what: str, fn: Callable[[], str | None]) -> None:
        """Run a DB write off the UI thread; notify its outcome and poll at once."""

        def job() -> None:
            try:
                message = fn()
            except Exception as exc:  # a locked or vanished database: words, not a traceback
                self.call_from_thread(self.notify, f"{what} failed: {exc.__class__.__name__}: "
                                      f"{scrub(str(exc), self.db_url)}", severity="error", timeout=10)
                return
            if message:
                self.call_from_thread(self.notify, message, title=what)
            self.poke()

        self.run_worker(job, thread=True, group="actions", name=what, exit_on_error=False)

    def _fatal_error(self) -> None:
        """Textual's crash report, without the values of local variables (Textual shows them: a
        URL, or the driver's connection arguments, would print the database password) and with
        the password scrubbed from the exceptions' messages."""
        import rich
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.bell()
        traceback = Traceback(show_locals=False, width=None, suppress=[rich])
        for stack in traceback.trace.stacks:
            stack.exc_value = scrub(stack.exc_value, self.db_url)
            stack.notes = [scrub(note, self.db_url) for note in stack.notes]
        self._exit_renderables.append(Segments(self.console.render(traceback, self.console.options)))
        self._close_messages_no_wait()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every key action of the screen and the app, in the command palette too."""
        yield from super().get_system_commands(screen)
        from xltui.tui.help_screen import user_bindings

        seen: set[str] = set()
        for key, active in user_bindings(screen):
            binding = active.binding
            if binding.action in seen:
                continue
            seen.add(binding.action)
            title = binding.description
            if binding.action.startswith("switch_mode"):
                title = f"Go to {binding.description.lower()} screen"
            help_text = binding.tooltip or f"key {binding.key_display or key}"
            yield SystemCommand(title, help_text, self._binding_callback(active.node, binding.action))

    def _binding_callback(self, node, action: str) -> Callable[[], object]:
        return lambda: self.run_action(action, node)
