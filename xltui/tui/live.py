"""The base of every screen redrawn from the app's polled snapshots."""

from __future__ import annotations

from textual.screen import Screen

from xltui.tui.messages import SnapshotTaken
from xltui.tui.snapshot_types import Snapshot


class LiveScreen(Screen):
    """Shows the latest snapshot when it mounts or comes back, and every new one the app posts."""

    def show(self, snap: Snapshot) -> None:
        raise NotImplementedError

    def show_latest(self) -> None:
        if self.app.snapshot is not None:
            self.show(self.app.snapshot)

    def on_screen_resume(self) -> None:
        self.show_latest()

    def on_snapshot_taken(self, message: SnapshotTaken) -> None:
        self.show(message.snapshot)
