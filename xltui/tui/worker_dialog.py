"""Starting a detached worker from the Workers screen: the dialog and the typed request it returns.

Uses the app's ``.dialog`` styles (xltui/tui/app.tcss).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, Static


@dataclass(frozen=True)
class WorkerRequest:
    """Where to start a detached worker and how long it lives."""

    devices: list[str]  # ["cpu"] or ["cuda:0", "cuda:2"]
    exit_when_idle: bool


class StartWorkerScreen(ModalScreen["WorkerRequest | None"]):
    """Choose GPUs (or the CPU) for a detached worker."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, gpus: list[tuple[str, str]]) -> None:
        super().__init__()
        self.gpus = gpus  # (device, description)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Start a detached worker: it keeps running when the app closes or SSH drops.",
                        classes="dialog-text")
            if self.gpus:
                for device, text in self.gpus:
                    yield Checkbox(f"{device}  {text}", value=False, id=f"dev-{device.replace(':', '-')}")
            else:
                yield Static("No GPU is visible to NVML on this machine: the worker runs on the CPU.",
                             classes="dialog-note")
            yield Checkbox("CPU", value=not self.gpus, id="dev-cpu")
            yield Checkbox("Exit when the queue is empty", value=False, id="exit-idle")
            yield Static("", id="dialog-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start", id="start", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query(Checkbox).first().focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.dismiss(None)
            return
        gpus = [d for d, _ in self.gpus if self.query_one(f"#dev-{d.replace(':', '-')}", Checkbox).value]
        cpu = self.query_one("#dev-cpu", Checkbox).value
        if cpu and gpus:
            self.query_one("#dialog-error", Static).update("Choose GPUs or the CPU, not both.")
            return
        if not cpu and not gpus:
            self.query_one("#dialog-error", Static).update("Choose at least one GPU, or the CPU.")
            return
        self.dismiss(WorkerRequest(["cpu"] if cpu else gpus, self.query_one("#exit-idle", Checkbox).value))

    def action_cancel(self) -> None:
        self.dismiss(None)
