"""Tables A/B of the paper as plain data: mean ± SD per model × setting × language,
with the macro average, best-per-column marks, a caption and plain-language warnings.

Renderers (engine.analysis.render) and figures (engine.analysis.figures) only format what is here,
so the terminal, CSV, LaTeX, Markdown and JSON always agree. Values stay in the
units they are stored in (fractions for F1/accuracy); ``scale`` says how to show them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.analysis.scores import CellStatus, Score, ScoreSet, is_fraction_metric
from engine.analysis.summary import Summary, macro_average, summarize
from engine.tasks import TASKS

AVG = "avg"
MIN_SEEDS = 3
METRIC_NAMES = {"f1": "F1", "accuracy": "accuracy", "precision": "precision", "recall": "recall",
                "weighted_f1": "weighted F1", "macro_f1": "macro F1"}


def display_scale(metric: str) -> float:
    return 100.0 if is_fraction_metric(metric) else 1.0


def metric_title(task: str, metric: str) -> str:
    unit = " (%)" if is_fraction_metric(metric) else ""
    title = TASKS[task].title if task in TASKS else task.upper()
    return f"{title} {METRIC_NAMES.get(metric, metric)}{unit}"


def setting_order(text: str) -> tuple:
    """Settings in reading order: zero-shot, few-shot k=10 before k=100, then the rest."""
    rank = 0 if text.startswith("zero-shot") else 1 if text.startswith("few-shot") else 2
    return (rank, *(f"{int(t):012d}" if t.isdigit() else t for t in re.split(r"(\d+)", text)))


@dataclass(frozen=True)
class Cell:
    summary: Summary | None  # None: no seed has a score here
    seeds: tuple  # seeds with a score, sorted
    values: tuple[float, ...]  # in seed order
    n_expected: int  # runs meant to fill the cell (not cancelled)
    n_pending: int = 0  # queued or running
    n_failed: int = 0
    best: bool = False

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def incomplete(self) -> bool:
        return self.n < self.n_expected

    @property
    def seeds_label(self) -> str:
        """'3/5 seeds' when runs of the cell are still queued, running or failed."""
        return f"{self.n}/{self.n_expected} seeds" if self.incomplete else ""


@dataclass(frozen=True)
class TableRow:
    system: str
    setting: str
    cells: dict[str, Cell]  # column (language or AVG) -> cell


@dataclass
class ScoreTable:
    """Table A/B: rows model × setting, columns target languages and the macro average."""

    task: str
    metric: str
    split: str
    languages: list[str]
    rows: list[TableRow]
    caption: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return [*self.languages, AVG]

    @property
    def rows_by_key(self) -> dict[tuple[str, str], TableRow]:
        return {(r.system, r.setting): r for r in self.rows}

    @property
    def scale(self) -> float:
        return display_scale(self.metric)

    @property
    def title(self) -> str:
        return f"{metric_title(self.task, self.metric)}, mean ± SD over seeds"


# ----------------------------------------------------------------------------- Table A/B


def _by_row(scores: list[Score]) -> dict[tuple[str, str], dict[str, dict[int, float]]]:
    """(system, setting) -> language -> seed -> value."""
    out: dict = defaultdict(lambda: defaultdict(dict))
    for s in scores:
        out[(s.system, s.setting)][s.language][s.seed] = s.value
    return out


def _cell(values: dict[int, float], status: CellStatus | None) -> Cell:
    seeds = tuple(sorted(values))
    vals = tuple(values[s] for s in seeds)
    st = status or CellStatus()
    return Cell(summarize(vals) if vals else None, seeds, vals, max(st.expected, len(vals)), st.pending, st.failed)


def score_table(data: ScoreSet, task: str, metric: str, systems: Sequence[str] = ()) -> ScoreTable | None:
    """Table A/B for one task and metric; None when no score matches."""
    scores = [s for s in data.scores if s.task == task and s.metric == metric]
    if not scores:
        return None
    languages = sorted({s.language for s in scores})
    order = {name: i for i, name in enumerate(systems)}
    grouped = _by_row(scores)
    keys = sorted(grouped, key=lambda k: (setting_order(k[1]), order.get(k[0], len(order)), k[0]))
    table = ScoreTable(task, metric, data.split, languages, [])
    incomplete: dict[tuple[str, str], tuple] = {}
    for system, setting in keys:
        per_lang = grouped[(system, setting)]
        cells = {lang: _cell(per_lang.get(lang, {}), data.status.get((system, task, setting, lang)))
                 for lang in languages}
        macro = macro_average(per_lang, languages)
        per_seed = macro.per_seed
        # at most this many more seeds could still complete: the cell with most runs queued, running or failed
        waiting = max(c.n_pending + c.n_failed for c in cells.values())
        cells[AVG] = Cell(macro.summary if per_seed else None, tuple(per_seed), tuple(per_seed.values()),
                          len(per_seed) + waiting, sum(c.n_pending for c in cells.values()),
                          sum(c.n_failed for c in cells.values()))
        table.rows.append(TableRow(system, setting, cells))
        table.warnings += _row_warnings(system, setting, task, cells, languages)
        if per_seed:
            incomplete[(system, setting)] = macro.incomplete
    table.warnings += _macro_warning(table, incomplete)
    _mark_best(table)
    table.caption = _score_caption(table)
    return table


def _row_warnings(system: str, setting: str, task: str, cells: dict[str, Cell], languages: list[str]) -> list[str]:
    where = f"{system} ({task}, {setting})"
    out = []
    few = [f"{lang} ({c.n})" for lang, c in cells.items() if lang != AVG and 0 < c.n < MIN_SEEDS]
    if few:
        out.append(f"{where}: fewer than {MIN_SEEDS} seeds in {', '.join(few)}; SD and tests are unreliable")
    for lang, c in cells.items():
        if lang != AVG and c.incomplete:
            why = ", ".join(p for p in (f"{c.n_pending} queued or running" if c.n_pending else "",
                                        f"{c.n_failed} failed" if c.n_failed else "") if p) or "runs without a score"
            out.append(f"{where} {lang}: {c.seeds_label} ({why})")
    missing = [lang for lang in languages if cells[lang].n == 0]
    if missing:
        out.append(f"{where}: no scores for {', '.join(missing)}, so no macro average")
    return out


def _macro_warning(table: ScoreTable, incomplete: dict[tuple[str, str], tuple]) -> list[str]:
    """One line for every row whose macro average had to leave seeds out."""
    parts = [f"{system} ({setting}) {table.rows_by_key[(system, setting)].cells[AVG].n} of "
             f"{table.rows_by_key[(system, setting)].cells[AVG].n + len(seeds)} (left out: "
             f"{', '.join(map(str, seeds))})" for (system, setting), seeds in incomplete.items() if seeds]
    if not parts:
        return []
    return [f"{table.task}: macro averages use only seeds that have every language — " + "; ".join(parts)]


def _mark_best(table: ScoreTable) -> None:
    """Bold the best mean per column within each setting (few-shot would otherwise always win)."""
    for setting in {r.setting for r in table.rows}:
        rows = [r for r in table.rows if r.setting == setting]
        for col in table.columns:
            means = [r.cells[col].summary.mean for r in rows if r.cells[col].summary is not None]
            if len(means) < 2:
                continue
            top = max(means)
            for r in rows:
                c = r.cells[col]
                if c.summary is not None and c.summary.mean == top:
                    r.cells[col] = Cell(c.summary, c.seeds, c.values, c.n_expected, c.n_pending, c.n_failed, True)


def _score_caption(t: ScoreTable) -> str:
    return (f"Evaluated on the {t.split} split; mean ± sample SD over seeds. "
            f"'{AVG}' is the macro average over the {len(t.languages)} languages, taken per seed over seeds "
            f"that have every language, then averaged over seeds. Bold: best mean per column within a setting. "
            f"'n/m seeds': n of the m runs of a cell have a score (the rest are queued, running or failed).")
