"""Screen 3, results: the paper's tables and figures for a study, what each method costs, and their exports.

The report is `xltui results`'s own (xltui.cli_results.build_results_report), built
in a thread worker; the tables are engine.analysis.render's rich tables, the figures
engine.analysis.figures' terminal charts, and an export writes what `xltui results
--format FMT -o FILE` writes, byte for byte, into ./xltui-exports/<study>/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Select, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from engine.spec import ADAPTER_STUDY, TASKS, RunStatus
from xltui.tui.messages import SnapshotTaken
from xltui.tui.results_view import EXPORTS, METRICS, ResultsQuery, comparison_choices

CHART_HEIGHT = 18


class ResultsScreen(Screen):
    """Mean ± SD per language and macro average, Holm-marked paired tests, Figures 1–3, costs, exports."""

    CSS_PATH = "results.tcss"
    HELP_TITLE = "Results"
    HELP = """\
## Results
The tables and tests of `xltui results` for the chosen study, task, metric and comparison
(Tab moves between the lists, Enter opens one). **f** shows the figures; **$** the Costs tab, the
efficiency table of `--efficiency` (method, score, trainable parameters, s/step, peak memory; again: back to
the tables, without it); **l**, **c**, **m** write LaTeX, CSV, Markdown into `xltui-exports/<study>/`
(**e**: all three) and say where.
"""
    BINDINGS = [
        Binding("l", "export('latex')", "LaTeX", tooltip="Export the tables as LaTeX (booktabs) into xltui-exports/"),
        Binding("c", "export('csv')", "CSV", tooltip="Export the tables as tidy CSV into xltui-exports/"),
        Binding("m", "export('markdown')", "MD", tooltip="Export the tables as Markdown into xltui-exports/"),
        Binding("e", "export_all", "All", tooltip="Write the CSV, LaTeX and Markdown exports"),
        Binding("g", "export_figures", "PNG/PDF", tooltip="Write the figures as PNG and PDF (like --figures)"),
        Binding("f", "toggle_view", "Figures", tooltip="Switch between the tables and the figures"),
        Binding("dollar_sign", "toggle_efficiency", "Costs", key_display="$",
                tooltip="The efficiency table: what each method trains and costs beside its score (--efficiency)"),
        Binding("p", "toggle_per_language", "Per-lang",
                tooltip="Also test each language on its own (--per-language)"),
        Binding("r", "reload", "Reload", tooltip="Read the results again from the database"),
    ]
    exports_dir = Path("xltui-exports")  # relative to the working directory, like the CLI's -o

    def __init__(self) -> None:
        super().__init__()
        self.report: Any = None  # the engine.analysis.report.Report shown, None while there is none
        self.query_shown: ResultsQuery | None = None
        self._per_language = False
        self._efficiency = False
        self._known_studies: tuple[str, ...] = ()
        self._finished: dict[str, int] = {}
        self._compare_values: list[str] = [""]
        self._wanted: str | None = None  # asked for before the study list arrived; kept until shown

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="results-controls"):
            yield Select[str]([], prompt="study", id="study", compact=True)
            yield Select[str]([("task: all", "")] + [(f"task: {t}", t) for t in TASKS], value="",
                              allow_blank=False, id="task", compact=True)
            yield Select[str]([("metric: primary", "")] + [(f"metric: {m}", m) for m in METRICS], value="",
                              allow_blank=False, id="metric", compact=True)
            yield Select[str](comparison_choices([]), value="", allow_blank=False, id="compare", compact=True)
        with TabbedContent(id="results-tabs"):
            with TabPane("Tables", id="tab-tables"), VerticalScroll(id="tables-scroll"):
                yield Static("", id="tables")
            with TabPane("Figures", id="tab-figures"), VerticalScroll(id="figures-scroll"):
                yield Static("", id="figures")
            with TabPane("Costs", id="tab-efficiency"), VerticalScroll(id="efficiency-scroll"):
                yield Static("", id="efficiency")
        yield Static("", id="results-status")
        yield Footer()

    def on_mount(self) -> None:
        self._load_studies(None)

    # ------------------------------------------------------------------------- studies

    def select_study(self, study: str | None) -> None:
        """Show ``study`` (the queue screen's 'open results' calls this); None keeps the current one."""
        if study is None:
            return
        if study in self._known_studies:
            self._wanted = None
            self.query_one("#study", Select).value = study
        else:
            self._wanted = study  # a listing started meanwhile (by a snapshot) must not forget it
            self._load_studies(study)

    @work(thread=True, exclusive=True, group="results-studies", exit_on_error=False, name="listing studies")
    def _load_studies(self, want: str | None) -> None:
        from engine.spec import ADAPTER_STUDY
        from engine.store.queries import study_names

        names = study_names(self.app.engine, skip=(ADAPTER_STUDY,))  # type: ignore[attr-defined]
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_studies, names, want)

    def _show_studies(self, names: list[str], want: str | None) -> None:
        select = self.query_one("#study", Select)
        current = select.value if select.value != Select.BLANK else None
        if tuple(names) != self._known_studies:
            self._known_studies = tuple(names)
            select.set_options((n, n) for n in names)
        want = want or self._wanted
        choice = want if want in names else current if current in names else (names[0] if names else None)
        if choice is not None and choice == self._wanted:
            self._wanted = None
        if choice is None:
            self._say_empty("No studies in this database yet: compose a grid (2) and queue it, or "
                            "`xltui import-results FILE.csv` for published baselines.")
        elif select.value != choice:
            select.value = choice  # Select.Changed starts the report
        elif self.report is None:
            self.action_reload()

    def on_snapshot_taken(self, message: SnapshotTaken) -> None:
        """A run of the shown study finished: read its results again (the app polls once a second)."""
        names = tuple(sorted(s.name for s in message.snapshot.studies if s.name != ADAPTER_STUDY))
        if names != tuple(sorted(self._known_studies)):
            self._load_studies(None)
        finished = {s.name: s.counts.get(RunStatus.SUCCEEDED, 0) for s in message.snapshot.studies}
        study = self.query_shown.study if self.query_shown else None
        if study and study in self._finished and finished.get(study) != self._finished[study]:
            self.action_reload()
        self._finished = finished

    # ------------------------------------------------------------------------- the report

    def current_query(self) -> ResultsQuery | None:
        study = self.query_one("#study", Select).value
        if study == Select.BLANK:
            return None
        return ResultsQuery(str(study), str(self.query_one("#task", Select).value),
                            str(self.query_one("#metric", Select).value),
                            str(self.query_one("#compare", Select).value), self._per_language, self._efficiency)

    @on(Select.Changed)
    def _selection_changed(self, event: Select.Changed) -> None:
        if event.select.id == "study":  # another study has other systems
            self._set_comparisons([], "")
        self.action_reload()

    def _set_comparisons(self, systems: list[str], value: str) -> None:
        choices = comparison_choices(systems)
        values = [v for _, v in choices]
        compare = self.query_one("#compare", Select)
        with self.prevent(Select.Changed):
            if values != self._compare_values:
                self._compare_values = values
                compare.set_options(choices)
            compare.value = value if value in values else ""

    def action_reload(self) -> None:
        query = self.current_query()
        if query is None:
            return
        self.query_one("#results-status", Static).update(f"reading {query.study}…")
        self._build(query)

    @work(thread=True, exclusive=True, group="results-report", exit_on_error=False, name="building the tables")
    def _build(self, query: ResultsQuery) -> None:
        from engine.store.queries import study_systems
        from xltui.cli_results import build_results_report
        from xltui.errors import UserError

        engine = self.app.engine  # type: ignore[attr-defined]
        try:
            report = build_results_report(engine, [query.study], tasks=[query.task] if query.task else None,
                                          metric=query.metric or None, compare=query.compare or None,
                                          per_language=query.per_language, efficiency=query.efficiency)
        except UserError as exc:
            report, error = None, str(exc)
        else:
            error = ""
        systems = study_systems(engine, query.study)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_report, query, report, error, systems)

    def _show_report(self, query: ResultsQuery, report: Any, error: str, systems: list[str]) -> None:
        self._set_comparisons(systems, query.compare)
        self.report, self.query_shown = report, query
        if report is None:
            self._say_empty(f"error: {error}")
            return
        self._draw()
        warnings = len(report.all_warnings)
        note = f"{warnings} warning(s) below the tables" if warnings else "no warnings"
        status = f"{query.command()}  —  {note}"
        self.query_one("#results-status", Static).update(Text(status))

    def _say_empty(self, text: str) -> None:
        self.report = None
        self.query_one("#tables", Static).update(Text(text))
        self.query_one("#figures", Static).update(Text(text))
        self.query_one("#efficiency", Static).update(Text(text))
        self.query_one("#results-status", Static).update(Text(text.splitlines()[0] if text else ""))

    def _draw(self) -> None:
        """Tables and charts at the width there is now (rich tables transpose when narrow)."""
        from engine.analysis.figures import terminal_charts
        from xltui.tui.results_view import efficiency_view, tables_view

        if self.report is None:
            return
        width = max(40, (self.query_one("#tables-scroll").size.width or self.size.width) - 3)
        view, need = tables_view(self.report, width)
        tables = self.query_one("#tables", Static)
        tables.styles.width = need
        tables.update(view)
        view, need = efficiency_view(self.report, width)
        costs = self.query_one("#efficiency", Static)
        costs.styles.width = need
        costs.update(view)
        charts = terminal_charts(self.report, width=max(50, width), height=CHART_HEIGHT)
        self.query_one("#figures", Static).update(Text("\n\n".join(charts) or "no figures for this selection"))

    def on_resize(self) -> None:
        self._draw()

    # ------------------------------------------------------------------------- keys

    def action_toggle_view(self) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = "tab-tables" if tabs.active == "tab-figures" else "tab-figures"

    def action_toggle_efficiency(self) -> None:
        """The Costs tab with the efficiency table (the report read again with it); from the Costs tab, back
        to the tables without it. Exports and the command shown follow (--efficiency)."""
        tabs = self.query_one(TabbedContent)
        if self._efficiency and tabs.active != "tab-efficiency":
            tabs.active = "tab-efficiency"  # already there, on another tab: only show it
            return
        self._efficiency = not self._efficiency
        tabs.active = "tab-efficiency" if self._efficiency else "tab-tables"
        self.action_reload()

    @on(TabbedContent.TabActivated, pane="#tab-efficiency")
    def _costs_tab_opened(self) -> None:
        """Opening the Costs tab by mouse asks for the efficiency table, as $ does."""
        if not self._efficiency:
            self.action_toggle_efficiency()

    def action_toggle_per_language(self) -> None:
        self._per_language = not self._per_language
        self.notify(f"per-language tests {'on' if self._per_language else 'off'}")
        self.action_reload()

    def action_export(self, fmt: str) -> None:
        self._export([fmt])

    def action_export_all(self) -> None:
        self._export(list(EXPORTS))

    def action_export_figures(self) -> None:
        if self.report is None or self.query_shown is None:
            self.notify("nothing to draw: no tables for this selection", severity="warning")
            return
        self._write_figures(self.report, self.query_shown)

    def _export(self, formats: list[str]) -> None:
        if self.report is None or self.query_shown is None:
            self.notify("nothing to export: no tables for this selection", severity="warning")
            return
        self._write(self.report, self.query_shown, formats)

    @work(thread=True, group="results-export", exit_on_error=False, name="exporting the tables")
    def _write(self, report: Any, query: ResultsQuery, formats: list[str]) -> None:
        from xltui.tui.results_view import write_export

        try:
            paths = [write_export(report, query, self.exports_dir, fmt) for fmt in formats]
        except OSError as exc:
            self.app.call_from_thread(self.notify, f"cannot write the export: {exc}", severity="error", timeout=10)
            return
        same = query.command(formats[0], paths[0]) if len(formats) == 1 else query.command()
        self._tell_written(paths, same)

    @work(thread=True, group="results-export", exit_on_error=False, name="drawing the figures")
    def _write_figures(self, report: Any, query: ResultsQuery) -> None:
        from engine.analysis.figures import write_figures  # matplotlib: imported only when asked for

        folder = query.figures_dir(self.exports_dir)
        try:
            paths = write_figures(report, folder)
        except OSError as exc:
            self.app.call_from_thread(self.notify, f"cannot write the figures: {exc}", severity="error", timeout=10)
            return
        self._tell_written(paths or [folder], f"{query.command()} --figures {folder}")

    def _tell_written(self, paths: list[Path], same: str) -> None:
        where = ", ".join(str(p) for p in paths)
        self.app.call_from_thread(self.notify, f"wrote {where}\n(the same as `{same}`)", title="Exported",
                                  timeout=10)
