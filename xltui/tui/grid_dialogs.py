"""The composer's grid-file dialogs: a name to save a grid as, a grid file to open; each returns a typed value.

They use the app's ``.dialog`` styles (xltui/tui/app.tcss), as every dialog of the app does.
"""

from __future__ import annotations

import re
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList
from textual.widgets.option_list import Option

_FILE_NAME = re.compile(r"[A-Za-z0-9._-]+")


class NameDialog(ModalScreen[str | None]):
    """Ask for a grid name; returns it, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str, folder: str) -> None:
        super().__init__()
        self._title, self._value, self._folder = title, value, folder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            yield Input(self._value, id="name", placeholder="name (letters, digits, . _ -)")
            yield Label(f"saved as {self._folder}/NAME.yaml", id="hint", classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_input_submitted(self) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def _submit(self) -> None:
        name = self.query_one("#name", Input).value.strip().removesuffix(".yaml")
        if not _FILE_NAME.fullmatch(name):
            self.query_one("#hint", Label).update("use only letters, digits, '.', '_' and '-'")
            return
        self.dismiss(name)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PickFileDialog(ModalScreen[Path | None]):
    """Choose one of a list of files (the grids in configs/)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, files: list[Path]) -> None:
        super().__init__()
        self._title, self._files = title, files

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            yield OptionList(*(Option(str(f), id=str(i)) for i, f in enumerate(self._files)), id="files")
            yield Label("Enter opens, Escape cancels", classes="dialog-hint")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._files[int(event.option.id or 0)])

    def action_cancel(self) -> None:
        self.dismiss(None)
