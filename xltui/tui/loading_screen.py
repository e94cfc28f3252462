"""The app's frame before the engine is imported: header, footer, the head of the studies
table and a line that says it is loading.

Importing the engine (SQLModel, SQLAlchemy) and opening the database take longer than
Textual needs to paint, so the app shows this screen first and swaps in the queue
screen when a background thread has both. It imports nothing but Textual, and only the
widgets a bare Textual app has (a DataTable here cost its import, its CSS and its first
render before the first frame: ~0.03 s of a 0.2 s start); ``frame.tcss`` styles it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

STUDY_COLUMNS = ("study", "queued", "running", "succeeded", "failed", "cancelled", "done", "ETA")


class LoadingScreen(Screen):
    """What the first frame shows: the layout of the queue screen, empty, loading."""

    def compose(self) -> ComposeResult:
        yield Header()
        # the DataTable's head as it draws it: each label with one cell of padding either side
        yield Static("".join(f" {label} " for label in STUDY_COLUMNS), id="studies-head", markup=False)
        yield Static("loading studies and runs…", classes="status-line", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = getattr(self.app, "shown_db", "")
