"""A virtual run list: only the visible lines are ever formatted.

Textual's DataTable measures every cell on insertion (1.4 s for 10,000 runs on
the dev box); this list keeps plain ``RunRow`` objects, filters and sorts them
in Python (milliseconds) and renders the ~40 lines on screen, so the queue
screen paints at once on a database of any size. Columns that do not fit the
width are dropped by priority, so 80 columns still show what matters.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Callable

from rich.segment import Segment
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engine.states import RunStatus
from xltui.tui.messages import RunChosen, RunHighlighted
from xltui.tui.snapshot_types import RunRow
from xltui.views import format_duration, resume_text

STATUS_ORDER = {RunStatus.RUNNING: 0, RunStatus.QUEUED: 1, RunStatus.FAILED: 2, RunStatus.CANCELLED: 3, RunStatus.SUCCEEDED: 4}


def progress_text(r: RunRow) -> str:
    """Current loss for a running run, the final score for a finished one, the error for a failed one;
    then where its latest attempt resumed, if it did."""
    return " · ".join(filter(None, (_progress(r), resume_text(r.resume))))


def _progress(r: RunRow) -> str:
    if r.status == RunStatus.RUNNING:
        pct = f"{100 * r.step / r.total_steps:.0f}% " if r.step is not None and r.total_steps else ""
        return f"{pct}loss {r.loss:.3f}" if r.loss is not None else "starting"
    if r.status == RunStatus.SUCCEEDED:
        return f"{100 * r.score:.1f}" if r.score is not None else "done"
    if r.status == "failed":
        return r.error or "failed"
    return f"prio {r.priority}" if r.priority else ""


def duration(r: RunRow, now: float) -> float | None:
    if r.started_at is None or r.status == RunStatus.QUEUED:
        return None
    return (r.finished_at if r.finished_at is not None else now) - r.started_at


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int  # the least it is shown at (its content cut) before it is dropped for want of room
    priority: int  # lower stays longer when the terminal is narrow
    text: Callable[[RunRow, float], str]
    sort: Callable[[RunRow, float], object]
    right: bool = False
    cap: int = 0  # the most it takes for its content before every column has its own; 0: always ``width``


COLUMNS = (
    Column("id", "id", 5, 0, lambda r, _: str(r.id), lambda r, _: r.id, right=True, cap=8),
    Column("status", "status", 9, 0, lambda r, _: r.status, lambda r, _: (STATUS_ORDER.get(r.status, 9), r.id), cap=9),
    Column("study", "study", 12, 6, lambda r, _: r.study, lambda r, _: (r.study, r.id), cap=30),
    Column("model", "model", 10, 1, lambda r, _: r.model, lambda r, _: (r.model, r.id), cap=20),
    Column("method", "method", 6, 4, lambda r, _: r.method, lambda r, _: (r.method, r.id), cap=12),
    Column("task", "task", 4, 4, lambda r, _: r.task, lambda r, _: (r.task, r.id), cap=8),
    Column("setting", "setting", 9, 2, lambda r, _: r.setting, lambda r, _: (r.setting, r.id), cap=16),
    Column("languages", "languages", 12, 2, lambda r, _: r.languages, lambda r, _: (r.languages, r.id), cap=36),
    Column("seed", "seed", 4, 3, lambda r, _: str(r.seed), lambda r, _: (r.seed, r.id), right=True, cap=6),
    Column("progress", "loss / score", 14, 1, lambda r, _: progress_text(r),
           lambda r, _: (r.score if r.score is not None else -1.0, r.id), cap=30),
    Column("device", "device", 6, 5, lambda r, _: r.device, lambda r, _: (r.device, r.id), cap=10),
    Column("time", "time", 7, 1, lambda r, now: format_duration(duration(r, now)),
           lambda r, now: (duration(r, now) or 0.0, r.id), right=True),  # "123h05m": its width, always
)
SORT_KEYS = tuple(c.key for c in COLUMNS)
SORT_MARK = 2  # " ▲" after the label of the sorted column
PLAIN = ("status", "study", "model", "method", "task", "setting", "device")  # the text is the attribute


def _longest(texts) -> int:
    return max(map(len, texts), default=0)


def content_widths(rows: list[RunRow], sort_key: str = "id") -> dict[str, int]:
    """What each column needs to show all of ``rows`` and its header uncut.

    Distinct values are measured once (a few ms for 10,000 runs: it runs on every change of the runs).
    """
    if not rows:
        return {}
    values = {key: set(map(attrgetter(key), rows)) for key in PLAIN}
    need = {key: _longest(texts) for key, texts in values.items()}
    need["id"] = len(str(max(map(attrgetter("id"), rows)))) + 1  # and the mark "•" of a marked run
    need["seed"] = _longest({str(seed) for seed in set(map(attrgetter("seed"), rows))})
    need["languages"] = max(len(source) + 1 + len(targets)
                            for source, targets in set(map(attrgetter("source", "targets"), rows)))
    # a finished run shows its score ("100.0" at most): no need to format each one to measure it
    succeeded = RunStatus.SUCCEEDED.value  # the plain str: 10,000 comparisons with the enum member cost ~1 ms
    finished = 5 if succeeded in values["status"] else 0
    need["progress"] = max([finished, *(len(progress_text(r)) for r in rows
                                        if r.status != succeeded or r.resume is not None)])
    for c in COLUMNS:
        if c.key in need:
            need[c.key] = max(need[c.key], len(c.label) + (SORT_MARK if c.key == sort_key else 0))
    need["id"] += 1  # a blank at the left edge, as the studies table above has
    return need


def fit_columns(width: int, natural: dict[str, int] | None = None) -> list[tuple[Column, int]]:
    """The columns that fit ``width`` (by priority, in their order) and their widths.

    ``natural`` is what each column's content needs (``content_widths``). A column is never
    wider than that while another still cuts its text: it starts at the least of its
    ``width`` and its content, then grows to its content up to its ``cap``, the nearest to
    complete first; width left over then goes to text still cut at its cap (a failed run's
    error, a long list of languages), by priority; what remains is blank at the right.
    """
    natural = natural or {}

    def wanted(c: Column) -> int:
        return max(1, min(c.cap, natural[c.key])) if c.cap and c.key in natural else c.width

    least = {c.key: min(c.width, wanted(c)) for c in COLUMNS}
    chosen = list(COLUMNS)
    while len(chosen) > 2 and sum(least[c.key] + 1 for c in chosen) > width:
        chosen.remove(max(chosen, key=lambda c: (c.priority, COLUMNS.index(c))))
    widths = {c.key: least[c.key] for c in chosen}
    spare = max(0, width - sum(w + 1 for w in widths.values()))
    for c in sorted(chosen, key=lambda c: (wanted(c) - widths[c.key], c.priority, COLUMNS.index(c))):
        grow = min(spare, wanted(c) - widths[c.key])
        if grow > 0:
            widths[c.key] += grow
            spare -= grow
    for c in sorted(chosen, key=lambda c: (c.priority, COLUMNS.index(c))):
        grow = min(spare, natural.get(c.key, 0) - widths[c.key])
        if grow > 0:
            widths[c.key] += grow
            spare -= grow
    return [(c, widths[c.key]) for c in chosen]


def cell(text: str, width: int, right: bool) -> str:
    if len(text) > width:
        return text[: max(0, width - 1)] + "…"
    return text.rjust(width) if right else text.ljust(width)


class RunList(ScrollView, can_focus=True):
    """Runs as a scrolling list with a fixed header; Enter opens, space marks, click sorts."""

    COMPONENT_CLASSES = {"run-list--header", "run-list--cursor", "run-list--marked", "run-list--queued",
                         "run-list--running", "run-list--succeeded", "run-list--failed", "run-list--cancelled"}
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "move(-20)", "Page up", show=False),
        Binding("pagedown", "move(20)", "Page down", show=False),
        Binding("home", "move(-1000000)", "First", show=False),
        Binding("end", "move(1000000)", "Last", show=False),
        Binding("enter", "choose", "Open run", tooltip="Charts, log, config and scores of the run"),
        Binding("space", "mark", "Mark", tooltip="Mark runs; cancel/retry/priority act on all marked runs"),
    ]
    cursor = reactive(0, always_update=True, repaint=False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows: list[RunRow] = []  # all runs of the current scope
        self.view: list[RunRow] = []  # filtered and sorted
        self.marked: set[int] = set()
        self.filter_text = ""
        self.sort_key, self.sort_reverse = "id", False
        self.now = 0.0
        self.natural: dict[str, int] = {}  # what each column needs (``content_widths``)
        self._fitted: tuple[int, dict[str, int], list[tuple[Column, int]]] = (-1, {}, [])
        self._highlighted: int | None = None

    # -- data -------------------------------------------------------------------------------------
    def set_rows(self, rows: list[RunRow], now: float) -> None:
        """New runs (the caller skips this when nothing changed); cursor stays on the same run."""
        self.rows, self.now = rows, now
        self._rebuild()

    def tick(self, now: float) -> None:
        """A new poll without run changes: only the running runs' times move."""
        self.now = now
        self.refresh()

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self._rebuild()

    def sort_by(self, key: str, reverse: bool | None = None) -> None:
        if reverse is None:
            reverse = not self.sort_reverse if key == self.sort_key else False
        self.sort_key, self.sort_reverse = key, reverse
        self._rebuild()

    def _rebuild(self) -> None:
        current = self.current_run
        tokens = self.filter_text.lower().split()
        rows = self.rows
        if tokens:
            rows = [r for r in rows if all(t in self._haystack(r) for t in tokens)]
        column = next(c for c in COLUMNS if c.key == self.sort_key)
        self.view = sorted(rows, key=lambda r: column.sort(r, self.now), reverse=self.sort_reverse)
        self.natural = content_widths(self.rows, self.sort_key)  # of every run in scope: no jumps as a filter changes
        self.virtual_size = Size(self.size.width, len(self.view) + 1)
        index = next((i for i, r in enumerate(self.view) if current and r.id == current.id), None)
        self.cursor = min(self.cursor, max(0, len(self.view) - 1)) if index is None else index
        self.refresh()

    @staticmethod
    def _haystack(r: RunRow) -> str:
        return (f"#{r.id} {r.status} {r.study} {r.model} {r.method} {r.task} {r.setting} {r.languages} "
                f"seed{r.seed} {r.device} {r.error}{' resumed' if r.resume else ''}").lower()

    @property
    def current_run(self) -> RunRow | None:
        return self.view[self.cursor] if 0 <= self.cursor < len(self.view) else None

    def selected_ids(self) -> list[int]:
        """Marked runs still in view, else the run under the cursor."""
        visible = {r.id for r in self.view}
        marked = sorted(self.marked & visible)
        if marked:
            return marked
        return [self.current_run.id] if self.current_run else []

    def select_run(self, run_id: int) -> bool:
        for i, r in enumerate(self.view):
            if r.id == run_id:
                self.cursor = i
                return True
        return False

    # -- keys and mouse ---------------------------------------------------------------------------
    def watch_cursor(self, value: int) -> None:
        body = max(1, self.size.height - 1)
        if value < self.scroll_y:
            self.scroll_to(y=value, animate=False)
        elif value >= self.scroll_y + body:
            self.scroll_to(y=value - body + 1, animate=False)
        run = self.current_run
        run_id = run.id if run else None
        if run_id != self._highlighted:
            self._highlighted = run_id
            self.post_message(RunHighlighted(run_id))
        self.refresh()

    def action_move(self, delta: int) -> None:
        if self.view:
            self.cursor = max(0, min(len(self.view) - 1, self.cursor + delta))

    def action_choose(self) -> None:
        if self.current_run:
            self.post_message(RunChosen(self.current_run.id))

    def action_mark(self) -> None:
        run = self.current_run
        if run:
            self.marked ^= {run.id}
            self.action_move(1)

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            x = event.x
            for column, width in self.columns():
                if x <= width:
                    self.sort_by(column.key)
                    return
                x -= width + 1
            return
        index = int(self.scroll_y) + event.y - 1
        if 0 <= index < len(self.view):
            self.cursor = index
            if event.chain >= 2:
                self.action_choose()

    def columns(self) -> list[tuple[Column, int]]:
        """The columns shown at the current width (worked out once per width and change of the runs)."""
        width, natural, _ = self._fitted
        if width != self.size.width or natural is not self.natural:
            self._fitted = (self.size.width, self.natural, fit_columns(self.size.width, self.natural))
        return self._fitted[2]

    def on_resize(self, _event: events.Resize) -> None:
        self.virtual_size = Size(self.size.width, len(self.view) + 1)

    # -- rendering --------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        columns = self.columns()
        if y == 0:
            arrow = " ▼" if self.sort_reverse else " ▲"
            text = " ".join(cell(c.label + (arrow if c.key == self.sort_key else ""), w, c.right)
                            for c, w in columns)
            return Strip([Segment(cell(text, width, False), self.get_component_rich_style("run-list--header"))])
        index = int(self.scroll_y) + y - 1
        if index >= len(self.view):
            return Strip.blank(width, self.rich_style)
        r = self.view[index]
        base = self.rich_style
        if r.id in self.marked:
            base += self.get_component_rich_style("run-list--marked")
        if index == self.cursor:
            base += self.get_component_rich_style("run-list--cursor", partial=True)
        status_style = base + self.get_component_rich_style(f"run-list--{r.status}", partial=True)
        segments = []
        for i, (column, w) in enumerate(columns):
            text = column.text(r, self.now)
            if column.key == "id" and r.id in self.marked:
                text = "•" + text
            style = status_style if column.key in ("status",) or (column.key == "progress" and r.status == "failed") \
                else base
            segments.append(Segment(cell(text, w, column.right), style))
            if i < len(columns) - 1:
                segments.append(Segment(" ", base))
        used = sum(w + 1 for _, w in columns) - 1
        if used < width:
            segments.append(Segment(" " * (width - used), base))
        return Strip(segments, width).crop(0, width)

    def render_lines_summary(self) -> str:
        """What the list shows, for the status line under it."""
        total, shown = len(self.rows), len(self.view)
        marked = len(self.marked & {r.id for r in self.view})
        parts = [f"{shown} of {total} runs" if shown != total else f"{total} runs"]
        if marked:
            parts.append(f"{marked} marked")
        parts.append(f"sorted by {self.sort_key}{' ▼' if self.sort_reverse else ''}")
        current = self.current_run
        if current is not None and current.resume is not None:  # in full here, however narrow its column
            parts.append(f"run {current.id} {resume_text(current.resume)}")
        if self.filter_text:
            parts.append(f"filter: {self.filter_text}")
        return " · ".join(parts)
