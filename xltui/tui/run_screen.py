"""The run detail (Enter on a run in the queue): one run — live training charts, system charts, log tail, resolved config, scores."""

from __future__ import annotations

import json

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.widgets import Footer, Header, Log, Static, TabbedContent, TabPane

from engine.states import RunStatus
from xltui.tui.charts import Chart, memory_unit, scaled
from xltui.tui.confirm_dialog import ConfirmScreen
from xltui.tui.live import LiveScreen
from xltui.tui.run_scores import ScoresView, speed_line, train_scores
from xltui.tui.runlist import duration, progress_text
from xltui.tui.snapshot_types import RunDetail, Snapshot
from xltui.views import format_duration, resume_mark

TABS = ("training", "system", "log", "config", "scores")
RESUMES_SHOWN = 3  # the latest resumes listed under the title; the loss chart marks every one


class RunScreen(LiveScreen):
    """The run's latest attempt; Esc goes back to where it was opened from."""

    HELP_TITLE = "Run detail"
    BINDINGS = [
        Binding("escape,backspace", "back", "Back", tooltip="Back to the previous screen"),
        Binding("t", "tab('training')", "Training", tooltip="Loss, learning rate, dev score, examples/s"),
        Binding("y", "tab('system')", "System", tooltip="GPU memory and utilisation (RSS on the CPU)"),
        Binding("l", "tab('log')", "Log", tooltip="The last lines of the run's log"),
        Binding("g", "tab('config')", "Config", tooltip="The resolved run spec"),
        Binding("s", "tab('scores')", "Scores", tooltip="Scores per target language and per entity type / tag"),
        Binding("c", "cancel", "Cancel", tooltip="Cancel this run"),
        Binding("r", "retry", "Retry", tooltip="Queue this run again"),
    ]

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.detail_run_id = run_id  # the poll reads this run's metrics while the screen is on top
        self._version: tuple | None = None
        self._log_key: tuple | None = None
        self.detail: RunDetail | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"run {self.detail_run_id}: loading…", id="run-title")
        yield Static("", id="run-error")
        with TabbedContent(id="run-tabs", initial="training"):
            with TabPane("Training", id="training"):
                with Grid(classes="charts"):
                    yield Chart("train loss", id="chart-loss")
                    yield Chart("learning rate", id="chart-lr")
                    yield Chart("dev score", id="chart-dev")
                    yield Chart("examples/s", id="chart-speed")
            with TabPane("System", id="system"):
                with Grid(classes="charts system"):
                    yield Chart("memory", xlabel="seconds", id="chart-mem")
                    yield Chart("GPU utilisation (%)", xlabel="seconds", id="chart-util")
            with TabPane("Log", id="log"):
                yield Log(id="run-log", max_lines=500, auto_scroll=True)
            with TabPane("Config", id="config"):
                with VerticalScroll():
                    yield Static("", id="run-config")
            with TabPane("Scores", id="scores"):
                yield ScoresView(id="run-scores")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"run {self.detail_run_id}"
        self.query_one("#run-error").display = False
        snap = self.app.snapshot
        if snap is not None and snap.detail is not None and snap.detail.run.id == self.detail_run_id:
            self.show(snap)

    def on_screen_resume(self) -> None:
        self.app.poke()  # a dialog or another mode was on top: the poll did not read this run meanwhile

    def show(self, snap: Snapshot) -> None:
        detail = snap.detail
        if detail is None or detail.run.id != self.detail_run_id:
            if self.detail_run_id not in snap.by_id:
                self.query_one("#run-title", Static).update(f"run {self.detail_run_id} is not in the database")
            return
        self.detail = detail
        self._title(detail, snap.taken_at)
        if detail.version == self._version:
            return
        self._version = detail.version
        self._error(detail)
        self._charts(detail)
        self._log(detail)
        self.query_one("#run-config", Static).update(Syntax(_pretty(detail.spec_json), "json", word_wrap=True,
                                                            background_color="default"))
        self.query_one(ScoresView).show(detail)

    def _title(self, d: RunDetail, now: float) -> None:
        r = d.run
        attempts = f" · attempt {len(d.attempts)}" if d.attempts else ""
        speed = speed_line(train_scores(d))
        text = Text.assemble((f"run {r.id} ", "bold"), (r.status, _STATUS.get(r.status, "")),
                             f" · {r.model} ({r.method}) · {r.task} {r.setting} · {r.languages} · seed {r.seed}"
                             f" · {r.device or 'no device yet'}{attempts} · {format_duration(duration(r, now)) or '—'}"
                             f" · {progress_text(r) if r.status != RunStatus.FAILED else 'failed'} · study {r.study}"
                             + (f" · {speed}" if speed else ""))
        for line in resume_lines(d):
            text.append("\n" + line, "dim")
        self.query_one("#run-title", Static).update(text)

    def _error(self, d: RunDetail) -> None:
        box = self.query_one("#run-error", Static)
        if d.run.status not in (RunStatus.FAILED, RunStatus.CANCELLED) or not d.error:
            box.display = False
            return
        lines = d.error.strip().splitlines()
        log = next((line[5:] for line in lines if line.startswith("log: ")), d.log_path)
        where = f"\nLog: {log} (last lines in the Log tab, l)" if log else ""
        hint = "; r retries it" if d.run.status in (RunStatus.FAILED, RunStatus.CANCELLED) else ""
        box.update(Text(f"{'Failed' if d.run.status == RunStatus.FAILED else 'Cancelled'}: {lines[0]}{where}{hint}"))
        box.display = True

    def _charts(self, d: RunDetail) -> None:
        s = d.series
        loss_name = "train_loss" if "train_loss" in s else "mlm_loss"
        marks = [float(r.step) for r in d.resumes]
        self.query_one("#chart-loss", Chart).show([("loss", *s.get(loss_name, ([], [])))],
                                                  key=(s.get(loss_name), tuple(marks)), marks=marks)
        self.query_one("#chart-lr", Chart).show([("lr", *s.get("lr", ([], [])))], key=s.get("lr"))
        self.query_one("#chart-dev", Chart).show([("dev", *s.get("dev_score", ([], [])))], key=s.get("dev_score"))
        self.query_one("#chart-speed", Chart).show([("ex/s", *s.get("examples_per_s", ([], [])))],
                                                  key=s.get("examples_per_s"))
        samples = d.samples
        t0 = samples[0][0] if samples else 0.0
        ts = [x[0] - t0 for x in samples]
        on_gpu = any(x[2] is not None for x in samples)
        if on_gpu:
            cols = [[x[i] for x in samples] for i in (2, 3, 4)]
            name, unit = memory_unit(*cols)
            mem = [(label, ts, scaled(c, unit)) for label, c in zip(("allocated", "reserved", "peak"), cols)]
            util = [("util", ts, [x[5] or 0.0 for x in samples])]
            note = ""
        else:
            rss = [x[1] for x in samples]
            name, unit = memory_unit(rss)
            mem = [("RSS", ts, scaled(rss, unit))]
            util = []
            note = "CPU run: no GPU" if samples else ""
        key = (len(samples), samples[-1][0] if samples else None)
        chart = self.query_one("#chart-mem", Chart)
        chart.title = f"memory ({name})"
        chart.show(mem, key=key, note="" if on_gpu else "process RSS")
        self.query_one("#chart-util", Chart).show(util, key=key, ylim=(0, 100), note=note)

    def _log(self, d: RunDetail) -> None:
        key = (d.log_path, tuple(d.log_tail))
        if key == self._log_key:
            return
        self._log_key = key
        log = self.query_one("#run-log", Log)
        log.clear()
        if d.log_path:
            log.write_line(f"── {d.log_path} (last {len(d.log_tail)} lines) ──")
        else:
            log.write_line("── no log yet: the run has not started ──")
        log.write_lines(d.log_tail)

    # -- actions ----------------------------------------------------------------------------------
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_cancel(self) -> None:
        from engine.store.requests import cancel

        run_id, engine = self.detail_run_id, self.app.engine

        def do_cancel() -> None:
            self.app.in_background("Cancel", lambda: f"run {run_id}: {cancel(engine, [run_id])[run_id].message}")

        if self.detail is not None and self.detail.run.status == RunStatus.RUNNING:
            question = f"Cancel run {run_id}? Its worker stops it within a heartbeat; r queues it again later."
            self.app.push_screen(ConfirmScreen(question, yes="Cancel run"), lambda yes: do_cancel() if yes else None)
        else:
            do_cancel()

    def action_retry(self) -> None:
        from engine.store.requests import retry

        run_id, engine = self.detail_run_id, self.app.engine
        self.app.in_background("Retry", lambda: f"run {run_id}: {retry(engine, [run_id])[run_id].message}")


_STATUS = {RunStatus.RUNNING: "bold yellow", RunStatus.SUCCEEDED: "green", RunStatus.FAILED: "bold red", RunStatus.CANCELLED: "dim"}


def resume_lines(d: RunDetail) -> list[str]:
    """Where the run's story resumed, latest last; older resumes are counted, not listed."""
    lines = [resume_mark(r) for r in d.resumes[-RESUMES_SHOWN:]]
    hidden = len(d.resumes) - len(lines)
    return ([f"… {hidden} earlier resume{'s' if hidden != 1 else ''}"] if hidden else []) + lines


def _pretty(spec_json: str) -> str:
    try:
        return json.dumps(json.loads(spec_json), indent=2, sort_keys=True)
    except ValueError:
        return spec_json
