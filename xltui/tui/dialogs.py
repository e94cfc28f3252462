"""Modal dialogs that return typed values (``push_screen(..., callback)`` / ``push_screen_wait``)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """Yes / no, with the question in words; Enter or ``y`` confirms, Escape or ``n`` declines."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.question, self.yes = question, yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, id="yes", variant="warning")
                yield Button("No", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


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


class FilterInput(Input):
    """The run filter: words that must all appear in a run's line (``failed yor``, ``#12``, ``seed2``)."""

    BINDINGS = [Binding("escape", "clear_and_leave", "Clear filter")]

    def action_clear_and_leave(self) -> None:
        self.value = ""
        self.screen.focus_next()
