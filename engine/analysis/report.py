"""A report: every table of a selection of runs, with the warnings a reader must see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.analysis.comparison import ComparisonTable, comparison_table
from engine.analysis.scores import ScoreSet
from engine.analysis.tables import ScoreTable, score_table
from engine.states import MAIN_METRIC


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
              if (t := score_table(data, task, metric or MAIN_METRIC.get(task, "f1"), order)) is not None]
    comparison = None
    if pair and pair[1]:
        comparison = comparison_table(data, pair[0], pair[1], metric=metric, per_language=per_language,
                                      n_resamples=n_resamples, seed=seed)
    return Report(data.studies, data.split, tables, comparison, [*data.notes, *leak_notes])
