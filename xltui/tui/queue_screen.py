"""Screen 1: studies with progress and ETA, and the run queue below (filter, sort, act)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from engine.states import RunStatus
from engine.store.queue_reads import StudySummary
from xltui.tui.confirm_dialog import ConfirmScreen
from xltui.tui.live import LiveScreen
from xltui.tui.messages import RunChosen, RunHighlighted
from xltui.tui.runlist import SORT_KEYS, RunList
from xltui.tui.snapshot_types import Snapshot
from xltui.views import format_duration


class FilterInput(Input):
    """The run filter: words that must all appear in a run's line (``failed yor``, ``#12``, ``seed2``)."""

    BINDINGS = [Binding("escape", "clear_and_leave", "Clear filter")]

    def action_clear_and_leave(self) -> None:
        self.value = ""
        self.screen.focus_next()


class StudiesTable(DataTable):
    """A DataTable that repaints when its column widths change.

    Textual 8's DataTable caches rendered cells without their column's width and measures
    widths when idle: rows added in the frame the screen mounts in (the first snapshot is
    there that soon) kept the header and the first row at the old, narrower widths.
    """

    _widths_seen: tuple[int, ...] = ()

    def on_idle(self) -> None:  # after DataTable's own idle handler has measured the columns
        widths = tuple(c.content_width for c in self.ordered_columns)
        if widths != self._widths_seen:
            self._widths_seen = widths
            self.notify_style_update()  # clears the cell caches and repaints

ALL = "all"
BAR = 12


def progress_bar(s: StudySummary) -> Text:
    """Done / failed / running shares of a study as one bar, with the percentage done."""
    total = max(1, s.total)
    parts = [(s.counts.get(RunStatus.SUCCEEDED, 0), "green"), (s.counts.get(RunStatus.FAILED, 0) + s.counts.get(RunStatus.CANCELLED, 0), "red"),
             (s.counts.get(RunStatus.RUNNING, 0), "yellow")]
    text, used = Text(), 0
    for n, style in parts:
        cells = round(BAR * n / total)
        cells = min(cells, BAR - used)
        text.append("━" * cells, style=style)
        used += cells
    text.append("━" * (BAR - used), style="grey37")
    text.append(f" {100 * s.finished / total:3.0f}%")
    return text


def eta_text(s: StudySummary) -> str:
    if s.counts.get(RunStatus.QUEUED, 0) == 0 and s.counts.get(RunStatus.RUNNING, 0) == 0:
        return "done"
    return "—" if s.eta_s is None else format_duration(s.eta_s)


class QueueScreen(LiveScreen):
    """Studies on top (Tab switches), runs below; every action on a key and in the palette."""

    detail_run_id = None
    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/", tooltip="Show only runs matching words"),
        Binding("s", "sort", "Sort", tooltip="Sort the runs by the next column"),
        Binding("S", "reverse", "Reverse", show=False, tooltip="Reverse the sort order"),
        Binding("c", "cancel", "Cancel", tooltip="Cancel the marked runs or the run under the cursor"),
        Binding("r", "retry", "Retry", tooltip="Queue failed or cancelled runs again"),
        Binding("R", "retry_study", "Retry failed", show=False, tooltip="Retry every failed run of the study"),
        Binding("plus,equals_sign", "priority(1)", "Priority+", key_display="+", tooltip="Run sooner"),
        Binding("minus", "priority(-1)", "Priority−", key_display="-", tooltip="Run later"),
        Binding("o", "results", "Results", tooltip="Open the results of the study"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.scope: int | None = None  # study id, None = all studies
        self._studies: dict[int, StudySummary] = {}
        self._cells: dict[int | str, tuple] = {}  # what each study row shows now
        self._runs_version = -1
        self._scope_seen: int | None = -1

    def compose(self) -> ComposeResult:
        yield Header()
        yield StudiesTable(id="studies", cursor_type="row", zebra_stripes=False)
        yield FilterInput(placeholder="filter runs: words that must all match (Esc clears)", id="filter")
        yield RunList(id="runs")
        yield Static("waiting for the database…", id="runs-summary")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.app.shown_db  # its path, or the URL with the password masked (no SQLAlchemy yet)
        table = self.query_one("#studies", DataTable)
        for key, label in (("study", "study"), ("queued", "queued"), ("running", "run"), ("succeeded", "done"),
                           ("failed", "failed"), ("progress", "progress"), ("eta", "ETA")):
            table.add_column(label, key=key)
        table.add_row("all studies", "", "", "", "", "", "", key=ALL)
        self.query_one("#filter").display = False
        self.query_one(RunList).focus()
        self.show_latest()

    # -- showing a snapshot -----------------------------------------------------------------------
    def show(self, snap: Snapshot) -> None:
        self._show_studies(snap)
        runs = self.query_one(RunList)
        if snap.runs_version != self._runs_version or self.scope != self._scope_seen:
            self._runs_version, self._scope_seen = snap.runs_version, self.scope
            rows = snap.runs if self.scope is None else [r for r in snap.runs if r.study_id == self.scope]
            runs.set_rows(rows, snap.taken_at)
        else:
            runs.tick(snap.taken_at)
        self._summary()

    def _show_studies(self, snap: Snapshot) -> None:
        """Update only the cells whose text changed (usually just an ETA)."""
        table = self.query_one("#studies", DataTable)
        total = {k: 0 for k in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.SUCCEEDED, RunStatus.FAILED)}
        keys = ("study", "queued", "running", "succeeded", "failed", "progress", "eta")
        for s in snap.studies:
            for k in total:
                total[k] += s.counts.get(k, 0)
            self._studies[s.id] = s
            cells = (s.name, str(s.counts.get(RunStatus.QUEUED, 0)), str(s.counts.get(RunStatus.RUNNING, 0)),
                     str(s.counts.get(RunStatus.SUCCEEDED, 0)), Text(str(s.counts.get(RunStatus.FAILED, 0)),
                                                           style="red" if s.counts.get(RunStatus.FAILED) else ""),
                     progress_bar(s), eta_text(s))
            shown = self._cells.get(s.id)
            if shown is None:
                table.add_row(*cells, key=str(s.id))
            else:
                for key, value, before in zip(keys, cells, shown):
                    if value != before:  # rich Text compares text and styles
                        table.update_cell(str(s.id), key, value, update_width=True)
            self._cells[s.id] = cells
        all_cells = (f"all studies ({len(snap.studies)})", *(str(v) for v in total.values()))
        if all_cells != self._cells.get(ALL):
            self._cells[ALL] = all_cells
            for key, value in zip(keys, all_cells):
                table.update_cell(ALL, key, value, update_width=True)

    def _summary(self) -> None:
        runs = self.query_one(RunList)
        self.query_one("#runs-summary", Static).update(runs.render_lines_summary())

    # -- events -----------------------------------------------------------------------------------
    @on(DataTable.RowHighlighted, "#studies")
    def _study_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        self.scope = None if key in (None, ALL) else int(key)
        if self.app.snapshot is not None:
            self.show(self.app.snapshot)

    @on(DataTable.RowSelected, "#studies")
    def _study_selected(self, _event: DataTable.RowSelected) -> None:
        self.query_one(RunList).focus()

    @on(FilterInput.Changed, "#filter")
    def _filter_changed(self, event: FilterInput.Changed) -> None:
        self.query_one(RunList).set_filter(event.value)
        self._summary()

    @on(FilterInput.Submitted, "#filter")
    def _filter_done(self, _event: FilterInput.Submitted) -> None:
        self.query_one(RunList).focus()

    def on_descendant_blur(self, _event) -> None:
        flt = self.query_one("#filter", FilterInput)
        if not flt.has_focus and not flt.value:
            flt.display = False

    def on_run_chosen(self, message: RunChosen) -> None:
        self.app.open_run(message.run_id)

    def on_run_highlighted(self, _message: RunHighlighted) -> None:
        self._summary()

    # -- actions ----------------------------------------------------------------------------------
    def action_filter(self) -> None:
        flt = self.query_one("#filter", FilterInput)
        flt.display = True
        flt.focus()

    def action_sort(self) -> None:
        runs = self.query_one(RunList)
        keys = [c.key for c, _ in runs.columns()] or list(SORT_KEYS)  # the columns on screen
        at = keys.index(runs.sort_key) if runs.sort_key in keys else -1
        runs.sort_by(keys[(at + 1) % len(keys)], reverse=False)
        self._summary()

    def action_reverse(self) -> None:
        runs = self.query_one(RunList)
        runs.sort_by(runs.sort_key, reverse=not runs.sort_reverse)
        self._summary()

    def _targets(self, verb: str) -> list[int]:
        ids = self.query_one(RunList).selected_ids()
        if not ids:
            self.notify(f"no run to {verb}: move the cursor onto one (or mark some with space)", severity="warning")
        return ids

    def action_cancel(self) -> None:
        ids = self._targets("cancel")
        if not ids:
            return
        snap = self.app.snapshot
        running = [i for i in ids if snap and i in snap.by_id and snap.by_id[i].status == RunStatus.RUNNING]
        what = f"run {ids[0]}" if len(ids) == 1 else f"{len(ids)} runs"
        if not running:
            self._queue_change("Cancel", ids)
            return
        question = f"Cancel {what}? {len(running)} running: their workers stop them within a heartbeat."
        self.app.push_screen(ConfirmScreen(question, yes="Cancel runs"),
                             lambda yes: self._queue_change("Cancel", ids) if yes else None)

    def action_retry(self) -> None:
        ids = self._targets("retry")
        if ids:
            self._queue_change("Retry", ids)

    def action_retry_study(self) -> None:
        snap = self.app.snapshot
        if snap is None:
            return
        ids = [r.id for r in snap.runs if r.status in (RunStatus.FAILED, RunStatus.CANCELLED) and (self.scope is None or r.study_id == self.scope)]
        if not ids:
            self.notify("no failed or cancelled runs here", severity="warning")
            return
        self._queue_change("Retry", ids)

    def _queue_change(self, verb: str, ids: list[int]) -> None:
        from engine.store import requests

        engine = self.app.engine
        fn = requests.cancel if verb == "Cancel" else requests.retry

        def change() -> str:
            done = fn(engine, ids)
            ok = [i for i, t in done.items() if t.changed]
            bad = [f"run {i} {t.message}" for i, t in done.items() if not t.changed]
            text = f"{verb}: {len(ok)} run(s) changed" if len(ids) > 1 else f"run {ids[0]}: {done[ids[0]].message}"
            return text + (("\n" + "\n".join(bad[:3])) if bad and len(ids) > 1 else "")

        self.query_one(RunList).marked.clear()
        self.app.in_background(verb, change)

    def action_priority(self, delta: int) -> None:
        ids = self._targets("reprioritise")
        snap = self.app.snapshot
        if not ids or snap is None:
            return
        from engine.store.requests import set_priority

        engine = self.app.engine
        levels: dict[int, list[int]] = {}
        for i in ids:
            if i in snap.by_id:
                levels.setdefault(snap.by_id[i].priority + delta, []).append(i)

        def change() -> str:
            for level, group in levels.items():
                set_priority(engine, group, level)
            return ", ".join(f"run {i} → priority {level}" for level, g in levels.items() for i in g[:5])

        self.app.in_background("Priority", change)

    def action_results(self) -> None:
        study = self._studies.get(self.scope) if self.scope is not None else None
        name = study.name if study else None
        if name is None:
            run = self.query_one(RunList).current_run
            name = run.study if run else None
        try:
            self.app.open_results(name)
        except ImportError as exc:
            self.notify(f"the results screen is not available: {exc}", severity="error")
