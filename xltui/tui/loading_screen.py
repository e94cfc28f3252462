"""The app's frame before the engine is imported: header, footer, and a studies table
that says it is loading.

Importing the engine (SQLModel, SQLAlchemy) and opening the database take longer than
Textual needs to paint, so the app shows this screen first and swaps in the queue
screen when a background thread has both. It imports nothing but Textual.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

STUDY_COLUMNS = ("study", "queued", "running", "succeeded", "failed", "cancelled", "done", "ETA")


class LoadingScreen(Screen):
    """What the first frame shows: the layout of the queue screen, empty, loading."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="studies", cursor_type="none", show_cursor=False)
        yield Static("loading studies and runs…", classes="status-line")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#studies", DataTable)
        table.add_columns(*STUDY_COLUMNS)
        self.sub_title = getattr(self.app, "shown_db", "")
