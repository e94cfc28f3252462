"""Screen 2, the composer: build a grid with keys and clicks, see what it costs, save or queue it.

The form fills a Draft (xltui.tui.grid_draft); every change re-checks the YAML text
the draft stands for in a thread worker through engine.runner.study, as `xltui grid
validate` and `xltui run --grid` do, so the problems panel shows their messages word
for word and Ctrl+R queues what `xltui run --grid` would. The model highlighted in the
models list shows its adapters below it (task-adapter method and options, released
language adapters); editing them rewrites that entry's keys and nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import (
    Checkbox,
    Footer,
    Header,
    Input,
    Select,
    SelectionList,
    Static,
)
from textual.worker import get_current_worker

from xltui.tui import grid_draft as gd
from xltui.tui.composer_adapters import ModelAdapters
from xltui.tui.composer_form import (
    LanguageLists,
    form_widgets,
    model_label,
    model_options,
    ordered,
)
from xltui.tui.confirm_dialog import ConfirmScreen
from xltui.tui.data_choices import default_ref
from xltui.tui.grid_dialogs import NameDialog, PickFileDialog


def save_text(text: str, path: Path, *, overwrite: bool = False) -> bool:
    """Write the grid file; False (nothing written) when another file is there and ``overwrite`` is off."""
    if path.exists() and not overwrite and path.read_text(encoding="utf-8") != text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


class ComposerScreen(ModelAdapters):
    """Compose a grid: models × methods, task, languages, settings, seeds, hyperparameters."""

    CSS_PATH = "composer.tcss"
    HELP_TITLE = "Composer"
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", tooltip="Save the grid as configs/NAME.yaml (asks before overwriting)"),
        Binding("ctrl+r", "enqueue", "Enqueue", tooltip="Queue the grid's new runs, as `xltui run --grid` does"),
        Binding("ctrl+o", "open", "Open grid", tooltip="Load a grid file from configs/ into the composer"),
        Binding("ctrl+n", "new", "New grid", tooltip="Start again from the defaults"),
    ]
    HELP = """\
## Composer
Build a grid without writing YAML. **Tab** moves between fields, **Space** or a click
ticks a choice, **Enter** in *other model* adds a hub id or local directory.
Below the models, the *highlighted* model's adapters: its task adapter (a method of the
`adapters` library: lora, ia3, seq_bn, …) with its options (`r=8, alpha=16`), and for
MAD-X the released language adapters to load instead of training them
(`swa=AdapterHub/xlm-roberta-base-sw-wiki_pfeiffer, am=/path/to/dir`).
The right panel counts the runs, those already in the database (they will not run
again) and estimates the duration from finished runs; problems are the CLI's
messages (`xltui grid validate`). **Ctrl+S** saves `configs/NAME.yaml`, **Ctrl+R**
queues the runs (a worker runs them), **Ctrl+O** opens a saved grid, **Ctrl+N** starts over.
"""
    configs_dir = Path("configs")  # relative to the working directory, like the CLI's paths
    CHECK_DELAY_S = 0.25

    def __init__(self) -> None:
        super().__init__()
        self._draft = gd.new_draft()
        self._models: list[dict[str, Any]] = []
        self._path: Path | None = None  # the file the draft was loaded from or saved to
        self._timer = None
        self._langs: LanguageLists | None = None
        self.last_check: Any = None  # the latest engine.runner.study.GridReport shown (tests read it)
        self._checked_text = ""  # the YAML text last_check is about
        self._adapters_offered: tuple[str, ...] = gd.TASK_ADAPTERS  # the task-adapter list's names

    # ------------------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="composer"):
            with VerticalScroll(id="form"):
                yield from form_widgets()
            with VerticalScroll(id="side"):
                yield Static("checking…", id="summary")
                yield Static("", id="problems")
                yield Static("", id="yaml")
        yield Footer()

    def on_mount(self) -> None:
        self._fill(self._draft)

    # ------------------------------------------------------------------------- draft <-> widgets

    def _fill(self, draft: gd.Draft) -> None:
        """Show a draft in the form; what the form cannot show stays in ``self._draft``."""
        self._draft = draft
        self.query_one("#study", Input).value = draft.study
        tasks = self.query_one("#tasks", SelectionList)
        tasks.deselect_all()
        for t in draft.tasks:
            if t in gd.TASKS:
                tasks.select(t)
        for t in gd.TASKS:
            self.query_one(f"#data-{t}", Input).value = draft.data.get(t, default_ref(t))
        self._models = model_options(draft.models)
        models = self.query_one("#models", SelectionList)
        models.clear_options()
        models.add_options([(model_label(m), i, i < len(draft.models)) for i, m in enumerate(self._models)])
        models.highlighted = 0  # Space works at once after Tab
        self._show_entry()
        self.query_one("#zero-shot", Checkbox).value = draft.zero_shot
        self.query_one("#few-shot", Input).value = draft.few_shot
        self.query_one("#seeds", Input).value = draft.seeds
        for name in gd.TRAIN_FIELDS:
            self.query_one(f"#train-{name}", Input).value = draft.train.get(name, "")
        self._langs = LanguageLists(self.query_one("#source", SelectionList), self.query_one("#targets", SelectionList))
        self._langs.refresh(self._refs(), self._base_dir(), draft.source, draft.targets)
        self._schedule_check()

    def _refs(self) -> dict[str, str | dict[str, str]]:
        tasks = self.query_one("#tasks", SelectionList).selected
        return {t: gd.parse_data(self.query_one(f"#data-{t}", Input).value) for t in gd.TASKS if t in tasks}

    def draft(self) -> gd.Draft:
        """The draft the form shows now."""
        d = self._draft
        tasks = [t for t in gd.TASKS if t in self.query_one("#tasks", SelectionList).selected]
        tasks += [t for t in d.tasks if t not in gd.TASKS]  # unknown tasks stay, for the validator to name
        data = {t: self.query_one(f"#data-{t}", Input).value for t in gd.TASKS if t in tasks or t in d.data}
        data.update({t: v for t, v in d.data.items() if t not in gd.TASKS})
        chosen = sorted(self.query_one("#models", SelectionList).selected)
        assert self._langs is not None
        return gd.Draft(
            study=self.query_one("#study", Input).value, tasks=tasks, data=data,
            models=[self._models[i] for i in chosen],
            source=ordered(self.query_one("#source", SelectionList).selected, d.source, self._langs.source_order),
            targets=ordered(self.query_one("#targets", SelectionList).selected, d.targets, self._langs.target_order),
            zero_shot=self.query_one("#zero-shot", Checkbox).value, few_shot=self.query_one("#few-shot", Input).value,
            seeds=self.query_one("#seeds", Input).value,
            train={n: self.query_one(f"#train-{n}", Input).value for n in gd.TRAIN_FIELDS},
            train_explicit=d.train_explicit, train_other=d.train_other, settings_other=d.settings_other,
            extra=d.extra)

    def current_yaml(self) -> str:
        return gd.draft_to_yaml(self.draft())

    @property
    def checked_text(self) -> str:
        """The YAML text ``last_check`` is about (it is current when it equals ``current_yaml()``)."""
        return self._checked_text

    def grid_path(self) -> Path:
        """Where the text will be saved: the opened file, else configs/<study>.yaml."""
        if self._path is not None:
            return self._path
        study = self.query_one("#study", Input).value.strip() or "grid"
        return self.configs_dir / f"{study}.yaml"

    def _base_dir(self) -> Path:
        return self.grid_path().parent

    # ------------------------------------------------------------------------- live check

    @on(Input.Changed)
    @on(SelectionList.SelectedChanged)
    @on(Checkbox.Changed)
    def _changed(self, event: Any) -> None:
        control = getattr(event, "control", None)
        if control is not None and control.id in {"tasks", "data-ner", "data-pos"} and self._langs is not None:
            self._langs.refresh(self._refs(), self._base_dir())
        if control is None or control.id not in ("custom-model", "add-lang"):
            self._schedule_check()

    def _schedule_check(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.CHECK_DELAY_S, self._start_check)

    def _start_check(self) -> None:
        self._check(self.current_yaml(), self.grid_path())

    @work(thread=True, exclusive=True, group="composer-check", exit_on_error=False, name="checking the grid")
    def _check(self, text: str, path: Path) -> None:
        from engine.runner.study import check_grid, estimate_seconds, read_known
        from engine.store.queries import run_durations

        report = check_grid(path, text)
        seconds, adapter_lines = None, []
        if report.ok:
            engine = self.app.engine  # type: ignore[attr-defined]
            seconds = estimate_seconds(read_known(report, engine), run_durations(engine))
            adapter_lines = report.adapter_lines  # may look in the Hugging Face cache: not on the UI thread
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_check, text, report, seconds, adapter_lines)

    def _show_check(self, text: str, report: Any, seconds: float | None, adapter_lines: list[str] | None = None) -> None:
        from xltui.tui.composer_form import problem_lines, summary_text

        self.last_check, self._checked_text = report, text
        self.query_one("#summary", Static).update(summary_text(report, seconds, adapter_lines or ()))
        problems = self.query_one("#problems", Static)
        problems.update(Text("\n".join(problem_lines(report))))  # Text: a '[zero-shot]' is no markup tag
        problems.set_class(not report.ok, "has-problems")
        self.query_one("#yaml", Static).update(Text(text))

    # ------------------------------------------------------------------------- custom model

    @on(Input.Submitted, "#custom-model")
    def _add_model(self, event: Input.Submitted) -> None:
        ref = event.value.strip()
        if not ref:
            return
        method = str(self.query_one("#custom-method", Select).value)
        config = "lora" if method == "adapter" else ""  # method adapter names one: LoRA until another is picked
        taken = {str(m.get("name")) for m in self._models}
        entry = {"name": gd.model_alias(ref, method, taken, config), "model": ref, "method": method}
        if config:
            entry["task_adapter"] = {"config": config}
        self._models.append(entry)
        models = self.query_one("#models", SelectionList)
        models.add_option((model_label(entry), len(self._models) - 1, True))
        models.highlighted = len(self._models) - 1  # its adapters show below the list
        self._show_entry()
        event.input.value = ""
        self.notify(f"added model {entry['name']} ({ref}, {method}{' ' + config if config else ''})")

    @on(Input.Submitted, "#add-lang")
    def _add_languages(self, event: Input.Submitted) -> None:
        codes = [str(c) for c in gd.parse_list(event.value)]
        if not codes or self._langs is None:
            return
        self._langs.added += [c for c in codes if c not in self._langs.added]
        targets = list(dict.fromkeys([*self.query_one("#targets", SelectionList).selected, *codes]))
        self._langs.refresh(self._refs(), self._base_dir(), self.query_one("#source", SelectionList).selected,
                            targets)
        event.input.value = ""

    # ------------------------------------------------------------------------- actions

    def action_new(self) -> None:
        self._path = None
        self._fill(gd.new_draft())

    def action_open(self) -> None:
        files = sorted(self.configs_dir.glob("*.yaml")) + sorted(self.configs_dir.glob("*.yml"))
        if not files:
            self.notify(f"no grid files in {self.configs_dir}/", severity="warning")
            return
        self.app.push_screen(PickFileDialog(f"Open a grid from {self.configs_dir}/", files), self.load_grid_file)

    def load_grid_file(self, path: Path | None, announce: bool = True) -> None:
        """Show a grid file in the form (the open dialog's callback; the app may call it too)."""
        if path is None:
            return
        try:
            draft = gd.yaml_to_draft(path.read_text(encoding="utf-8"), str(path))
        except (OSError, UnicodeDecodeError, gd.DraftError) as exc:
            self.notify(f"cannot open {path}: {exc}", severity="error", timeout=10)
            return
        self._path = path
        self._fill(draft)
        if announce:
            self.notify(f"opened {path}")

    def action_save(self) -> None:
        default = self._path.stem if self._path else self.query_one("#study", Input).value.strip()
        self.app.push_screen(NameDialog("Save the grid as", default, str(self.configs_dir)), self._save_as)

    def _save_as(self, name: str | None, overwrite: bool = False) -> None:
        if name is None:
            return
        path = self.configs_dir / f"{name}.yaml"
        text = self.current_yaml()
        try:
            written = save_text(text, path, overwrite=overwrite)
        except OSError as exc:
            self.notify(f"cannot write {path}: {exc}", severity="error", timeout=10)
            return
        if not written:
            self.app.push_screen(ConfirmScreen(f"{path} exists and differs. Overwrite it?"),
                                 lambda yes: self._save_as(name, overwrite=True) if yes else None)
            return
        self._path = path
        bad = self.last_check is not None and self._checked_text == text and not self.last_check.ok
        self.notify(f"saved {path}" + (" — it still has problems, see the panel" if bad else ""),
                    severity="warning" if bad else "information")
        self._schedule_check()

    def action_enqueue(self) -> None:
        self._enqueue(self.current_yaml(), self.grid_path())

    @work(thread=True, exclusive=True, group="composer-enqueue", exit_on_error=False, name="queueing the grid")
    def _enqueue(self, text: str, path: Path) -> None:
        from engine.runner.study import check_grid, queue_grid

        report = check_grid(path, text)
        if report.ok:  # the study records the file's path when the text is that file, as `xltui run --grid` does
            saved = path.is_file() and path.read_text(encoding="utf-8") == text
            queue_grid(self.app.engine, report, record_path=saved)  # type: ignore[attr-defined]
        self.app.call_from_thread(self._enqueued, text, report)

    def _enqueued(self, text: str, report: Any) -> None:
        from xltui.tui.composer_form import problem_lines

        if not report.ok:
            self._show_check(text, report, None)
            self.notify(f"not queued: the grid has problems — {problem_lines(report)[0]}", severity="error",
                        timeout=10)
            return
        self.notify(f"{report.summary()}. Workers run them: the Workers screen (4) or `xltui worker --cpu`",
                    timeout=10)
        poke = getattr(self.app, "poke", None)  # the app's queue view polls at once
        if callable(poke):
            poke()
        self._schedule_check()

