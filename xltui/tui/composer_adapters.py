"""The composer's editing of one model entry's adapters: the task-adapter method and its options, and
released language adapters, for the model highlighted in the models list.

The base of ComposerScreen (xltui.tui.composer; a Screen, so Textual registers its handlers), which holds ``_models`` (the entries as the grid
writes them), ``_adapters_offered`` and ``_schedule_check``. Showing an entry changes nothing in it;
editing rewrites that entry's keys and nothing else (xltui.tui.grid_draft), ticks it and re-checks
the grid.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Input, Label, Select, SelectionList, Static

from xltui.tui import grid_draft as gd
from xltui.tui.composer_form import adapter_placeholders, model_label, task_adapter_prompt


class ModelAdapters(Screen):
    """Handlers and helpers of the adapter fields below the models list."""

    _models: list[dict[str, Any]]
    _adapters_offered: tuple[str, ...]

    def _highlighted(self) -> int | None:
        """The index in ``self._models`` of the entry the adapter fields edit."""
        index = self.query_one("#models", SelectionList).highlighted
        return index if index is not None and 0 <= index < len(self._models) else None

    @on(SelectionList.SelectionHighlighted, "#models")
    def _model_highlighted(self, _event: SelectionList.SelectionHighlighted) -> None:
        self._show_entry()

    def _show_entry(self) -> None:
        """Show the highlighted entry's adapters in their fields (changes nothing in the entry)."""
        index = self._highlighted()
        entry = self._models[index] if index is not None else {}
        method = str(entry.get("method", ""))
        config, options = gd.task_adapter_of(entry)
        select = self.query_one("#task-adapter", Select)
        self.query_one("#adapters-of", Label).update(f"Adapters of {entry.get('name')}" if entry
                                                     else "Adapters of the highlighted model")
        note = gd.entry_note(entry) if entry else "no model highlighted"
        self.query_one("#model-note", Static).update(Content.from_markup("[dim]$note", note=note))
        with self.prevent(Select.Changed, Input.Changed):  # showing is no edit
            offered = (*gd.TASK_ADAPTERS, *([config] if config and config not in gd.TASK_ADAPTERS else []))
            if offered != self._adapters_offered:  # a name loaded from a file is offered too
                select.set_options((n, n) for n in offered)
                self._adapters_offered = offered
            select.prompt = task_adapter_prompt(method)
            select.value = config or Select.NULL
            self.query_one("#task-options", Input).value = gd.format_options(options)
            self.query_one("#pretrained", Input).value = gd.format_pretrained(gd.pretrained_of(entry))
        options_input, pretrained_input = self.query_one("#task-options", Input), self.query_one("#pretrained", Input)
        # a full entry has no adapters to set, an adapter entry no language adapters (unless loaded: they can go)
        select.disabled = options_input.disabled = method not in ("madx", "adapter") and "task_adapter" not in entry
        pretrained_input.disabled = method != "madx" and not gd.pretrained_of(entry)
        options_input.placeholder, pretrained_input.placeholder = adapter_placeholders(method)

    def _edit(self, index: int, entry: dict[str, Any]) -> None:
        """Replace a model entry (ticking it: an entry being set up is one to run) and re-check."""
        self._models[index] = entry
        models = self.query_one("#models", SelectionList)
        models.replace_option_prompt_at_index(index, model_label(entry))
        models.select(index)
        self._schedule_check()

    def _entry_of(self, changed, shown) -> tuple[int, dict] | None:
        """The highlighted model entry an adapter field's change is about; None when the change is stale
        (the fields show another entry now) or no entry is highlighted."""
        index = self._highlighted()
        if index is None or changed != shown:
            return None
        return index, self._models[index]

    @on(Select.Changed, "#task-adapter")
    def _task_adapter_picked(self, event: Select.Changed) -> None:
        if (found := self._entry_of(event.value, event.select.value)) is None:
            return
        index, entry = found
        config = "" if event.value is Select.NULL else str(event.value)
        old, options = gd.task_adapter_of(entry)
        if config == old:
            return
        if not gd.same_method(str(entry.get("method")), old, config):
            options = {}  # another method: its own defaults, not the options of the one before
            with self.prevent(Input.Changed):
                self.query_one("#task-options", Input).value = ""
        self._edit(index, gd.with_task_adapter(entry, config, options))

    @on(Input.Changed, "#task-options")
    def _task_options_typed(self, event: Input.Changed) -> None:
        if (found := self._entry_of(event.value, event.input.value)) is None:
            return
        index, entry = found
        config, options = gd.task_adapter_of(entry)
        if gd.parse_options(event.value) != options:
            self._edit(index, gd.with_task_adapter(entry, config, gd.parse_options(event.value)))

    @on(Input.Changed, "#pretrained")
    def _pretrained_typed(self, event: Input.Changed) -> None:
        if (found := self._entry_of(event.value, event.input.value)) is None:
            return
        index, entry = found
        if gd.parse_pretrained(event.value) != gd.pretrained_of(entry):
            self._edit(index, gd.with_pretrained(entry, gd.parse_pretrained(event.value)))
