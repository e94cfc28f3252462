"""``?``: the keys of the screen underneath, generated from its bindings so it never goes stale."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

GENERAL = (
    "The app only reads and writes the database; training runs in worker processes, so closing the app "
    "(q, or a dropped SSH link) stops nothing. Reopen it with `xltui --db PATH` and everything is as it was. "
    "Over SSH, run it inside tmux or screen; start workers from the Workers screen (4) or with "
    "`xltui run --grid FILE --detach`. Ctrl+P opens the command palette (every action is there); "
    "Ctrl+Q or q quits."
)


def user_bindings(screen: Screen) -> list:
    """(key, ActiveBinding) a user would look for: shown in the footer, or the screen's own actions.

    Widget plumbing (cursor keys of tables, copy) is left out.
    """
    return [(key, active) for key, active in screen.active_bindings.items()
            if active.binding.description and (active.binding.show or active.node is screen)]


def bindings_table(screen: Screen) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    table.add_column("key", style="bold", no_wrap=True)
    table.add_column("action")
    seen: set[tuple[str, str]] = set()
    for _key, active in user_bindings(screen):
        b = active.binding
        if (b.action, b.description) in seen:
            continue
        seen.add((b.action, b.description))
        table.add_row(b.key_display or screen.app.get_key_display(b), b.tooltip or b.description)
    return table


class HelpScreen(ModalScreen[None]):
    """Keys of ``under`` and how the app fits with workers and SSH; any key closes it."""

    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, under: Screen) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        title = getattr(self.under, "HELP_TITLE", None) or self.under.__class__.__name__.replace("Screen", "")
        with VerticalScroll(classes="dialog help"):
            yield Static(Text(f"{title} — keys", style="bold"), classes="dialog-title")
            yield Static(bindings_table(self.under))
            yield Static(GENERAL, classes="dialog-note")
            yield Static("Esc closes this help.", classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)
