"""Messages between the poll worker, the app and its screens: small dataclasses, past tense."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from xltui.tui.snapshot_types import Snapshot


@dataclass
class SnapshotTaken(Message, bubble=False):
    """The poll worker read the database; screens show what changed.

    It does not bubble: the app posts it to the active screen, which must not
    hand it back to the app.
    """

    snapshot: Snapshot


@dataclass
class RunChosen(Message):
    """The user opened a run (Enter or a double click on it)."""

    run_id: int


@dataclass
class RunHighlighted(Message):
    """The cursor moved onto a run (or off every run: ``None``)."""

    run_id: int | None
