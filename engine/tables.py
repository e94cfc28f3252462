"""The paper's tables as plain data: scores (mean ± SD per model × setting × language)
and significance (one system vs each baseline), each with its caption and warnings.

Renderers (engine.render) and figures (engine.figures) only format what is here,
so the terminal, CSV, LaTeX, Markdown and JSON always agree. Values stay in the
units they are stored in (fractions for F1/accuracy); ``scale`` says how to show them.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.scores import CellStatus, Score, ScoreSet, is_fraction_metric
from engine.stats import ALPHA, PairedComparison, Summary, compare, holm, macro_average, pair_up, summarize

AVG = "avg"
POOLED = "pooled"
MIN_SEEDS = 3
PRIMARY_METRIC = {"ner": "f1", "pos": "accuracy"}
METRIC_NAMES = {"f1": "F1", "accuracy": "accuracy", "precision": "precision", "recall": "recall"}


def display_scale(metric: str) -> float:
    return 100.0 if is_fraction_metric(metric) else 1.0


def metric_title(task: str, metric: str) -> str:
    unit = " (%)" if is_fraction_metric(metric) else ""
    return f"{task.upper()} {METRIC_NAMES.get(metric, metric)}{unit}"


def _setting_order(text: str) -> tuple:
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


@dataclass(frozen=True)
class ComparisonRow:
    task: str
    metric: str
    setting: str
    system: str
    baseline: str
    language: str  # POOLED or a language code
    result: PairedComparison
    mean_a: float  # over the paired runs only
    mean_b: float
    p_holm: float = math.nan
    mark: str = ""  # † p_holm < 0.05, ‡ p_holm < 0.01

    @property
    def scale(self) -> float:
        return display_scale(self.metric)


@dataclass
class ComparisonTable:
    """Table C: one system vs each baseline per task × setting (pooled; per language on request)."""

    system: str
    baselines: list[str]
    split: str
    rows: list[ComparisonRow]
    per_language: bool = False
    caption: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.system} vs {', '.join(self.baselines)}: paired tests"


@dataclass
class Report:
    studies: list[str]
    split: str
    score_tables: list[ScoreTable]
    comparison: ComparisonTable | None
    warnings: list[str] = field(default_factory=list)  # about the whole selection (leaks, duplicates)

    @property
    def all_warnings(self) -> list[str]:
        out = list(self.warnings)
        for t in self.score_tables:
            out += t.warnings
        if self.comparison is not None:
            out += self.comparison.warnings
        return list(dict.fromkeys(out))


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
    keys = sorted(grouped, key=lambda k: (_setting_order(k[1]), order.get(k[0], len(order)), k[0]))
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
    return (f"{metric_title(t.task, t.metric)} on the {t.split} split: mean ± sample SD over seeds. "
            f"'{AVG}' is the macro average over the {len(t.languages)} languages, taken per seed over seeds "
            f"that have every language, then averaged over seeds. Bold: best mean per column within a setting. "
            f"'n/m seeds': n of the m runs of a cell have a score (the rest are queued, running or failed).")


# ----------------------------------------------------------------------------- Table C


def _pairs(scores: list[Score], system: str, language: str | None) -> dict:
    """(language, seed) -> value, or seed -> value for one language."""
    if language is None:
        return {(s.language, s.seed): s.value for s in scores if s.system == system}
    return {s.seed: s.value for s in scores if s.system == system and s.language == language}


def comparison_table(data: ScoreSet, system: str, baselines: Sequence[str], *, metric: str | None = None,
                     per_language: bool = False, n_resamples: int = 100_000, seed: int = 0) -> ComparisonTable:
    """``system`` vs each baseline, pairs matched on (task, setting, language, seed)."""
    table = ComparisonTable(system, list(baselines), data.split, [], per_language)
    pooled: list[ComparisonRow] = []
    by_lang: list[ComparisonRow] = []
    for task in sorted({s.task for s in data.scores if s.system == system}):
        m = metric or PRIMARY_METRIC.get(task, "f1")
        task_scores = [s for s in data.scores if s.task == task and s.metric == m]
        for setting in sorted({s.setting for s in task_scores if s.system == system}, key=_setting_order):
            scores = [s for s in task_scores if s.setting == setting]
            for base in baselines:
                if not any(s.system == base for s in scores):
                    table.warnings.append(f"{base} has no {task} {m} scores in setting {setting}: "
                                          f"not compared with {system}")
                    continue
                a, b = _pairs(scores, system, None), _pairs(scores, base, None)
                pooled.append(_row(task, m, setting, system, base, POOLED, a, b, n_resamples, seed))
                table.warnings += _unpaired_warning(pooled[-1], a, b)
                if per_language:
                    for lang in sorted({k[0] for k in a} | {k[0] for k in b}):
                        by_lang.append(_row(task, m, setting, system, base, lang, _pairs(scores, system, lang),
                                            _pairs(scores, base, lang), n_resamples, seed))
    table.rows = _adjusted(pooled) + _adjusted(by_lang)
    table.warnings += _design_warnings(table.rows)
    table.caption = _comparison_caption(table, len(pooled), len(by_lang))
    return table


def _row(task: str, metric: str, setting: str, system: str, base: str, language: str, a: dict, b: dict,
         n_resamples: int, seed: int) -> ComparisonRow:
    result = compare(a, b, n_resamples=n_resamples, seed=seed)
    p = pair_up(a, b)
    mean = lambda x: float(x.mean()) if len(x) else math.nan  # noqa: E731
    return ComparisonRow(task, metric, setting, system, base, language, result, mean(p.a), mean(p.b))


def _adjusted(rows: list[ComparisonRow]) -> list[ComparisonRow]:
    """Holm over the permutation p-values of one family (pooled rows, or per-language rows)."""
    adjusted = holm([r.result.permutation.p for r in rows])
    out = []
    for r, p in zip(rows, adjusted):
        mark = "‡" if p < 0.01 else "†" if p < ALPHA else ""
        out.append(ComparisonRow(r.task, r.metric, r.setting, r.system, r.baseline, r.language, r.result,
                                 r.mean_a, r.mean_b, p, mark))
    return out


def _unpaired_warning(row: ComparisonRow, a: dict, b: dict) -> list[str]:
    p = pair_up(a, b)
    if not p.n_dropped:
        return []
    per_lang: dict[str, list[str]] = defaultdict(list)
    for name, keys in ((row.system, p.only_a), (row.baseline, p.only_b)):
        counts: dict[str, int] = defaultdict(int)
        for lang, _ in keys:
            counts[lang] += 1
        for lang, n in sorted(counts.items()):
            per_lang[lang].append(f"{n} only {name}")
    detail = "; ".join(f"{lang}: {', '.join(v)}" for lang, v in sorted(per_lang.items()))
    return [f"{row.system} vs {row.baseline} ({row.task}, {row.setting}): unpaired comparison — "
            f"{p.n_dropped} run(s) without a partner on the same language and seed were dropped "
            f"({p.n_pairs} pairs kept; {detail})"]


def _design_warnings(rows: list[ComparisonRow]) -> list[str]:
    out = []
    for r in rows:
        res = r.result
        where = f"{r.system} vs {r.baseline} ({r.task}, {r.setting}, {r.language})"
        if res.n_pairs == 0:
            out.append(f"{where}: no paired runs, nothing to test")
        elif r.language == POOLED and res.permutation.p_min > ALPHA:
            out.append(f"{where}: with {res.n_pairs} pairs p cannot go below {res.permutation.p_min:.3g}: "
                       f"not significant at {ALPHA:g} by design")
        elif res.t_test.note:
            out.append(f"{where}: t-test: {res.t_test.note}")
    lang_rows = [r for r in rows if r.language != POOLED and r.result.n_pairs]
    blocked = [r for r in lang_rows if r.result.permutation.p_min > ALPHA]
    if blocked:
        ns = sorted({r.result.n_pairs for r in blocked})
        out.append(f"{len(blocked)} of {len(lang_rows)} per-language tests cannot reach p < {ALPHA:g} by design "
                   f"(with {', '.join(map(str, ns))} pairs the smallest possible p is "
                   f"{', '.join(f'{2.0 ** (1 - n):.3g}' for n in ns)}); read their p_min column")
    return out


def _comparison_caption(t: ComparisonTable, n_pooled: int, n_lang: int) -> str:
    text = (f"{t.system} vs each baseline on the {t.split} split. Pairs are matched on (task, setting, language, "
            f"seed); a run without a partner is dropped (n_pairs kept, n_dropped). Rows marked '{POOLED}' pool the "
            f"pairs of all languages into one test (each language × seed pair is one unit): with 3 seeds a "
            f"per-language test can never go below p = 0.25. Δ: mean difference {t.system} − baseline over the "
            f"pairs (percentage points for F1/accuracy) with its 95% t-interval. p_perm: two-sided paired "
            f"permutation (sign-flip) test, exact over all 2^n sign vectors up to 20 pairs, else Monte Carlo "
            f"(n resamples, p = (b+1)/(n+1)); p_t: paired t-test. Cohen's d_z = mean(diff) / sd(diff) (primary "
            f"effect size for paired runs); d_av = mean diff / average SD of the two systems. p_Holm: Holm-adjusted "
            f"p_perm over the {n_pooled} pooled comparisons of this table")
    if n_lang:
        text += f" (per-language rows: over their own {n_lang} tests; p_min is the smallest p their design allows)"
    return text + "; † p_Holm < 0.05, ‡ p_Holm < 0.01."


# ----------------------------------------------------------------------------- the report


def default_comparison(data: ScoreSet) -> tuple[str, list[str]] | None:
    """MAD-X (by method or name) vs every other system, when the selection has one."""
    systems = data.systems
    madx = sorted({s.system for s in data.scores if s.method == "madx"}) or [s for s in systems if s == "madx"]
    if not madx:
        return None
    return madx[0], [s for s in systems if s != madx[0]]


def build_report(data: ScoreSet, *, compare_with: tuple[str, Sequence[str]] | None = None,
                 metric: str | None = None, per_language: bool = False, leak_notes: Sequence[str] = (),
                 n_resamples: int = 100_000, seed: int = 0) -> Report:
    """Every table of a selection of runs, with its warnings."""
    pair = compare_with or default_comparison(data)
    order = [pair[0], *pair[1]] if pair else []
    tables = [t for task in data.tasks
              if (t := score_table(data, task, metric or PRIMARY_METRIC.get(task, "f1"), order)) is not None]
    comparison = None
    if pair and pair[1]:
        comparison = comparison_table(data, pair[0], pair[1], metric=metric, per_language=per_language,
                                      n_resamples=n_resamples, seed=seed)
    return Report(data.studies, data.split, tables, comparison, [*data.notes, *leak_notes])
