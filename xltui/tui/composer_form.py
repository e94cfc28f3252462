"""The composer's form: its fields, which models and languages it offers in which order, its summary.

Kept apart from the screen so the ordering rules (a loaded grid keeps its order; new
choices follow the list) are plain functions, and the screen module stays short.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Checkbox, Input, Label, Select, SelectionList, Static

from engine.tasks import TASKS
from xltui.tui import grid_draft as gd
from xltui.tui.data_choices import languages_for_tasks


def form_widgets() -> ComposeResult:
    """The composer's fields, top to bottom; ids are what ComposerScreen reads."""
    yield Label("Study", classes="field-label")
    yield Input(id="study", compact=True)
    yield Label("Tasks", classes="field-label")
    yield SelectionList[str](*((t, t) for t in gd.TASKS), id="tasks", compact=True)
    for task in gd.TASKS:
        yield Label(f"{TASKS[task].title} data", classes="field-label")
        yield Input(id=f"data-{task}", compact=True, tooltip="a catalog name (masakhaner, ud, "
                    "ud:en_ewt, afrisenti), a local folder, or per language: en=ud:en_ewt, yor=ud:yo_ytb")
    yield Label("Models (Space ticks)", classes="field-label")
    yield SelectionList[int](id="models", compact=True)
    with Horizontal(id="custom-row"):
        yield Input(id="custom-model", placeholder="other: hub id or dir + Enter", compact=True)
        yield Select(((m, m) for m in gd.METHODS), value="full", allow_blank=False, id="custom-method",
                     compact=True, tooltip="full fine-tuning; madx: language adapters + a task adapter; "
                     "adapter: a task adapter alone (LoRA to start with: pick another below)")
    yield from adapter_widgets()
    yield Label("Source languages (train)", classes="field-label")
    yield SelectionList[str](id="source", compact=True)
    yield Label("Target languages (evaluate)", classes="field-label")
    yield SelectionList[str](id="targets", compact=True)
    yield Input(id="add-lang", placeholder="more languages: codes + Enter", compact=True,
                tooltip="languages the lists do not offer (e.g. of an hf: dataset): ticked as targets")
    yield Label("Settings", classes="field-label")
    yield Checkbox("zero-shot", id="zero-shot", compact=True)
    yield Input(id="few-shot", placeholder="few-shot K values, e.g. 10, 100", compact=True)
    yield Label("Seeds", classes="field-label")
    yield Input(id="seeds", compact=True)
    yield Label("Hyperparameters (literature defaults)", classes="field-label")
    for name in gd.TRAIN_FIELDS:
        with Horizontal(classes="hyper-row"):
            yield Label(name, classes="hyper-name")
            yield Input(id=f"train-{name}", placeholder="default", compact=True)


def adapter_widgets() -> ComposeResult:
    """The highlighted model entry's adapters: its task adapter's method and options, its released
    language adapters (ComposerScreen fills them as the highlight moves and writes them back)."""
    yield Label("Adapters of the highlighted model", id="adapters-of", classes="field-label")
    yield Static("", id="model-note")
    with Horizontal(classes="hyper-row"):
        yield Label("task adapter", classes="hyper-name")
        yield Select(((n, n) for n in gd.TASK_ADAPTERS), id="task-adapter", compact=True, prompt="default",
                     tooltip="a method of the adapters library (its own name); grid validation checks it")
    with Horizontal(classes="hyper-row"):
        yield Label("task options", classes="hyper-name")
        yield Input(id="task-options", compact=True,
                    tooltip="options of the method's config class in the adapters library, name=value")
    with Horizontal(classes="hyper-row"):
        yield Label("language adapters", classes="hyper-name")
        yield Input(id="pretrained", compact=True,
                    tooltip="loaded instead of trained, per language: a hub id (@revision optional) or a "
                    "directory, e.g. swa=AdapterHub/xlm-roberta-base-sw-wiki_pfeiffer, am=/path/to/dir")


def adapter_placeholders(method: str) -> tuple[str, str]:
    """What the task-options and language-adapter fields say while empty, for an entry of ``method``."""
    options = "the method's defaults, e.g. r=8, alpha=16" if method in ("madx", "adapter") else ""
    released = {"madx": "all trained; or released: swa=hub id or dir",
                "adapter": "none: method adapter trains a task adapter alone"}.get(method, "")
    return options, released


def task_adapter_prompt(method: str) -> str:
    """What the task-adapter list shows when the entry names no method."""
    return {"madx": f"default ({gd.MADX_TASK_ADAPTER})", "adapter": "pick a method"}.get(method, "none")


def model_label(m: dict[str, Any]) -> str:
    """'tiny: tiny (full)', 'lora-xlmr: xlm-roberta-base (adapter lora)', 'x: m (madx+lora, released swa)'."""
    method = str(m.get("method"))
    config, _options = gd.task_adapter_of(m)
    detail = {"adapter": f"adapter {config or '?'}", "madx": f"madx+{config}" if config else "madx"}.get(method, method)
    released = gd.pretrained_of(m)
    if released:
        detail += f", released {' '.join(map(str, released))}"
    return f"{m.get('name')}: {m.get('model')} ({detail})"


def model_options(loaded: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The loaded grid's model entries first (chosen, as written), then the catalogue's other names."""
    names = {str(m.get("name")) for m in loaded if isinstance(m, dict)}
    return [*(dict(m) for m in loaded), *(c.entry() for c in gd.MODEL_CHOICES if c.name not in names)]


def ordered(selected: Sequence[str], preferred: Sequence[str], option_order: Sequence[str]) -> list[str]:
    """Selected values: in the loaded grid's order where it had them, then in list order."""
    def key(v: str) -> tuple[int, int]:
        if v in preferred:
            return (0, list(preferred).index(v))
        return (1, list(option_order).index(v) if v in option_order else len(option_order))

    return sorted(dict.fromkeys(selected), key=key)


class LanguageLists:
    """The source and target lists, offered from the data the chosen tasks can see."""

    def __init__(self, source: SelectionList, targets: SelectionList) -> None:
        self.source, self.targets = source, targets
        self.source_order: list[str] = []
        self.target_order: list[str] = []
        self.problem: str | None = None
        self.added: list[str] = []  # typed in by the user: offered whatever the data listing says

    def refresh(self, refs: dict[str, str | dict[str, str]], base_dir: Path, want_source: Sequence[str] | None = None,
                want_targets: Sequence[str] | None = None) -> None:
        """Re-offer languages for ``refs`` (task -> data reference); chosen languages stay chosen."""
        choices = languages_for_tasks(refs, base_dir)
        self.problem = choices.problem
        src = list(want_source) if want_source is not None else list(self.source.selected)
        tgt = list(want_targets) if want_targets is not None else list(self.targets.selected)
        self.source_order = _rebuild(self.source, choices.source, src, self.added)
        self.target_order = _rebuild(self.targets, choices.target, tgt, self.added)


def _rebuild(widget: SelectionList, offered: Sequence[str], chosen: list[str], added: Sequence[str]) -> list[str]:
    values = list(dict.fromkeys([*offered, *added, *chosen]))
    labels = [v if v in offered else f"{v} (added)" if v in added else f"{v} (no data found)" for v in values]
    current = [widget.get_option_at_index(i).value for i in range(widget.option_count)]
    if current != values:
        widget.clear_options()
        widget.add_options([(label, v, v in chosen) for label, v in zip(labels, values)])
        widget.highlighted = 0 if values else None  # Space works at once after Tab
    else:
        for v in values:
            (widget.select if v in chosen else widget.deselect)(v)
    return values


def in_data_dir(line: str) -> str:
    """A message's paths under the data directory as ``$XLTUI_DATA/…``: the composer's column is narrow."""
    from engine.settings import DATA_ENV, data_dir

    return line.replace(f"{data_dir().resolve()}/", f"${DATA_ENV}/")


def problem_lines(report: Any) -> list[str]:
    """The blocking problems as the problems panel shows them: the CLI's lines, ``error: file:line: …``."""
    from xltui.errors import ERROR_PREFIX

    return [ERROR_PREFIX + line for line in report.errors]


def estimated_duration(seconds: float | None) -> str:
    """The summary's estimate in the app's one duration format (xltui.views), or why there is none."""
    from xltui.views import format_duration

    return "unknown (no finished runs yet)" if seconds is None else format_duration(seconds)


def summary_text(report: Any, seconds: float | None, adapter_lines: Sequence[str] = ()) -> Text:
    """Runs, runs already in the database, the estimate, which language adapters are loaded and which
    trained — or how many problems there are (``report``: an engine.runner.study.GridReport, compared
    with the database; ``adapter_lines``: its ``adapter_lines``, read off the UI thread)."""
    out = Text()
    out.append(f"{report.file}\n", style="bold")
    if not report.ok:
        out.append(f"{len(report.errors)} problem(s): nothing can be queued yet\n", style="bold red")
        return out
    out.append(f"study {report.study}\n")
    out.append(f"runs in the grid: {report.n_runs}\n")
    out.append(f"already in the database: {report.n_known} (not run again)\n")
    out.append(f"new runs to queue: {report.n_new}\n")
    out.append(f"estimated duration: {estimated_duration(seconds)}", style="bold")
    if seconds is not None:
        out.append("\n(one worker, means of finished runs)")
    if adapter_lines:
        out.append("\n")
    for line in adapter_lines:
        out.append(f"\n{in_data_dir(line)}")
    if report.design:
        out.append("\n\nseed-level tests (exact sign-flip floor, Holm over languages):")
    for check in report.design:
        warns = bool(check.warnings())
        out.append(f"\n{'⚠ ' if warns else ''}{check.short()}", style="yellow" if warns else "")
    if report.data_warnings:
        out.append("\n\ndata files (queued as they are):")
    for warning in report.data_warnings:
        out.append(f"\n⚠ {in_data_dir(str(warning))}", style="yellow")
    return out
