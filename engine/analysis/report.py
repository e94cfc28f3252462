"""A report: every table of a selection of runs, with the warnings a reader must see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.analysis.comparison import ComparisonTable, comparison_table
from engine.analysis.efficiency import Costs, EfficiencyTable, efficiency_table
from engine.analysis.scores import ScoreSet
from engine.analysis.sentence_level import Paths
from engine.analysis.suspicious import Suspect, exclude_runs, find_suspects, run_ranges
from engine.analysis.tables import ScoreTable, score_table
from engine.states import MAIN_METRIC


@dataclass
class Report:
    studies: list[str]
    split: str
    score_tables: list[ScoreTable]
    comparison: ComparisonTable | None
    warnings: list[str] = field(default_factory=list)  # about the whole selection (leaks, duplicates)
    suspects: list[Suspect] = field(default_factory=list)  # found before any exclusion
    excluded: list[int] = field(default_factory=list)  # run ids left out of every table (--exclude-runs)
    efficiency: EfficiencyTable | None = None  # score against cost, when asked for (--efficiency)

    @property
    def all_warnings(self) -> list[str]:
        out = list(self.warnings)
        for t in self.score_tables:
            out += t.warnings
        if self.comparison is not None:
            out += self.comparison.warnings
        if self.efficiency is not None:
            out += self.efficiency.warnings
        return list(dict.fromkeys(out))


def default_comparison(data: ScoreSet) -> tuple[str, list[str]] | None:
    """MAD-X (by method or name) vs every other system, when the selection has one."""
    systems = data.systems
    madx = sorted({s.system for s in data.scores if s.method == "madx"}) or [s for s in systems if s == "madx"]
    if not madx:
        return None
    return madx[0], [s for s in systems if s != madx[0]]


def resolve_exclusions(data: ScoreSet, exclude: Sequence[int | str], suspects: Sequence[Suspect]) -> list[int]:
    """Run ids to leave out: ids, or ``suspicious`` for every excludable flagged run.

    Raises ValueError naming ids that are not among the selection's scored runs."""
    ids: set[int] = set()
    for item in exclude:
        if item == "suspicious":
            ids |= {r for s in suspects if s.excludable for r in s.runs}
        else:
            ids.add(int(item))
    unknown = sorted(ids - set(data.run_ids))
    if unknown:
        raise ValueError(f"no scored run {', '.join(map(str, unknown))} in {', '.join(data.studies)}")
    return sorted(ids)


def build_report(data: ScoreSet, *, compare_with: tuple[str, Sequence[str]] | None = None,
                 metric: str | None = None, per_language: bool = False, leak_notes: Sequence[str] = (),
                 n_resamples: int = 100_000, seed: int = 0, exclude: Sequence[int | str] = (),
                 aso_iterations: int | None = None, predictions: Paths | None = None,
                 sentence_resamples: int = 10_000, costs: Costs | None = None) -> Report:
    """Every table of a selection of runs, with its warnings (suspicious runs named; ``exclude``d
    runs left out of every table and test, and said so); with ``costs``, the efficiency table too."""
    suspects = find_suspects(data)
    excluded = resolve_exclusions(data, exclude, suspects)
    notes = [s.message + (" — excluded" if set(s.runs) <= set(excluded) else "") for s in suspects]
    if excluded:
        data = exclude_runs(data, excluded)
        notes.append(f"{len(excluded)} run(s) excluded from every table and test (--exclude-runs): "
                     f"{', '.join(map(str, excluded))}")
    elif any(s.excludable for s in suspects):
        notes.append("recompute without the flagged runs: --exclude-runs suspicious (or their ids)")
    pair = compare_with or default_comparison(data)
    order = [pair[0], *pair[1]] if pair else []
    tables = [t for task in data.tasks
              if (t := score_table(data, task, metric or MAIN_METRIC.get(task, "f1"), order)) is not None]
    comparison = None
    if pair and pair[1]:
        comparison = comparison_table(data, pair[0], pair[1], metric=metric, per_language=per_language,
                                      n_resamples=n_resamples, seed=seed, aso_iterations=aso_iterations,
                                      predictions=predictions, sentence_resamples=sentence_resamples)
    efficiency = efficiency_table(data, costs, metric=metric, systems=order) if costs is not None else None
    if excluded:
        said = f" Excluded from this table (--exclude-runs): runs {run_ranges(excluded)}."
        for t in tables:
            t.caption += said
        if comparison is not None:
            comparison.caption += said
        if efficiency is not None:
            efficiency.caption += said
    return Report(data.studies, data.split, tables, comparison, [*data.notes, *leak_notes, *notes], suspects,
                  excluded, efficiency)
