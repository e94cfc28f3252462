"""Results a careful reader would question before averaging them: collapsed runs, outliers, copies.

Real published per-run results contain runs whose training collapsed (F1 = 0) and copy
or import errors; a mean ± SD table averages them silently. Each rule below names the
runs it flags, so ``xltui results --exclude-runs`` can recompute the tables without them.

* **collapsed**: a fraction metric (F1, accuracy) of at most 1 % — training diverged or
  predicted only ``O``.
* **outlier**: in a cell (system, task, setting, language) with at least 3 seeds, a run
  whose score is further from the cell's median than both 5 robust SDs (1.4826 × the
  median absolute deviation, the normal-consistent MAD; Leys et al. 2013 recommend 2.5–3,
  5 keeps honest seed noise unflagged) and 5 percentage points (so a cell of
  near-identical seeds, MAD ≈ 0, does not flag a 0.3-point difference). Either side:
  a run far above its seeds is as suspicious as one far below.
* **one class**: a sentence-classification run (engine.tasks) that predicted one class for
  every text of a language: recall 100 % for that class and 0 for every other gold class.
  Its weighted F1 is that class's share, not near 0, so *collapsed* misses it.
* **identical systems**: two different systems whose per-seed scores on one language are
  identical (at least 2 seeds, to 1e-9) — a copy or import error, not two models.
* **duplicate run**: two runs of one system and setting with identical values on every
  score they share (at least 2 scores: a language's F1, precision and recall, or several
  languages) — the same run imported or stored twice.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from engine.analysis.scores import Score, ScoreSet, is_fraction_metric
from engine.states import MAIN_METRIC
from engine.tasks import TASKS

__all__ = ["COLLAPSED_AT", "Suspect", "exclude_runs", "find_suspects", "run_ranges"]

COLLAPSED_AT = 0.01  # fraction metrics at or below this: a collapsed run
ROBUST_SDS = 5.0
MIN_GAP = 0.05  # 5 percentage points for fraction metrics (in stored units)
_DIGITS = 9


@dataclass(frozen=True)
class Suspect:
    kind: str  # collapsed | one-class | outlier | identical-systems | duplicate-run
    runs: tuple[int, ...]
    message: str
    excludable: bool = True  # identical systems: which copy is wrong is unknown, so not excluded wholesale


def _main(scores: Iterable[Score]) -> list[Score]:
    return [s for s in scores if s.metric == MAIN_METRIC.get(s.task, "f1")]


def _collapsed(scores: list[Score]) -> list[Suspect]:
    out = []
    for s in scores:
        if is_fraction_metric(s.metric) and s.value <= COLLAPSED_AT:
            out.append(Suspect("collapsed", (s.run_id,),
                               f"run {s.run_id} ({s.system}, {s.task}, {s.setting}, {s.language}, seed {s.seed}) "
                               f"collapsed: {s.metric} = {100 * s.value:.1f}"))
    return out


def _outliers(scores: list[Score]) -> list[Suspect]:
    cells: dict[tuple, list[Score]] = defaultdict(list)
    for s in scores:
        cells[(s.system, s.task, s.setting, s.language)].append(s)
    out = []
    for (system, task, setting, lang), cell in sorted(cells.items()):
        if len(cell) < 3:
            continue
        values = [s.value for s in cell]
        median = statistics.median(values)
        mad = 1.4826 * statistics.median(abs(v - median) for v in values)
        floor = MIN_GAP if is_fraction_metric(cell[0].metric) else 0.0
        for s in sorted(cell, key=lambda s: s.seed):
            gap = abs(s.value - median)
            if s.value <= COLLAPSED_AT and is_fraction_metric(s.metric):
                continue  # already named as collapsed
            if gap > ROBUST_SDS * mad and gap > floor:
                scale = 100 if is_fraction_metric(s.metric) else 1
                side = "below" if s.value < median else "above"
                out.append(Suspect("outlier", (s.run_id,),
                                   f"run {s.run_id} ({system}, {task}, {setting}, {lang}, seed {s.seed}) is an "
                                   f"outlier: {s.metric} {scale * s.value:.1f}, {scale * gap:.1f} {side} its cell's "
                                   f"median {scale * median:.1f} (> {ROBUST_SDS:g} robust SDs)"))
    return out


def _identical_systems(scores: list[Score]) -> list[Suspect]:
    vectors: dict[tuple, dict[str, tuple]] = defaultdict(dict)
    runs: dict[tuple, list[int]] = {}
    by_cell: dict[tuple, list[Score]] = defaultdict(list)
    for s in scores:
        by_cell[(s.task, s.setting, s.language, s.system)].append(s)
    for (task, setting, lang, system), cell in by_cell.items():
        if len(cell) >= 2:
            vectors[(task, setting, lang)][system] = tuple(sorted((s.seed, round(s.value, _DIGITS)) for s in cell))
            runs[(task, setting, lang, system)] = sorted(s.run_id for s in cell)
    same: dict[tuple, list[str]] = defaultdict(list)  # (task, setting, a, b) -> languages
    for (task, setting, lang), systems in sorted(vectors.items()):
        names = sorted(systems)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                if systems[a] == systems[b]:
                    same[(task, setting, a, b)].append(lang)
    out = []
    for (task, setting, a, b), langs in sorted(same.items()):
        ids = tuple(sorted(r for lang in langs for name in (a, b) for r in runs[(task, setting, lang, name)]))
        out.append(Suspect("identical-systems", ids,
                           f"{a} and {b} have identical per-seed scores on {len(langs)} language(s) ({task}, "
                           f"{setting}): {', '.join(langs)} — a copy or import error in one of them? runs "
                           f"{run_ranges(ids)}", excludable=False))
    return out


def run_ranges(ids: Iterable[int]) -> str:
    """1, 2, 3, 5, 7, 8 -> '1-3, 5, 7-8': long run lists stay readable."""
    parts: list[list[int]] = []
    for i in sorted(set(ids)):
        if parts and parts[-1][1] == i - 1:
            parts[-1][1] = i
        else:
            parts.append([i, i])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in parts)


def _duplicate_runs(scores: Iterable[Score]) -> list[Suspect]:
    per_run: dict[int, dict[tuple, float]] = defaultdict(dict)
    owner: dict[int, tuple] = {}
    for s in scores:
        per_run[s.run_id][(s.language, s.metric)] = round(s.value, _DIGITS)
        owner[s.run_id] = (s.system, s.task, s.setting)
    groups: dict[tuple, list[int]] = defaultdict(list)
    for run, vector in per_run.items():
        if len(vector) >= 2 and max(vector.values()) > COLLAPSED_AT:  # all-zero runs: named as collapsed
            groups[(owner[run], tuple(sorted(vector.items())))].append(run)
    out = []
    for ((system, task, setting), _), ids in sorted(groups.items(), key=lambda kv: kv[1]):
        if len(ids) > 1:
            ids = sorted(ids)
            out.append(Suspect("duplicate-run", tuple(ids[1:]),
                               f"runs {', '.join(map(str, ids))} ({system}, {task}, {setting}) have identical scores "
                               f"on all {len(per_run[ids[0]])} values: the same run stored twice? (the first, run "
                               f"{ids[0]}, is kept by --exclude-runs suspicious)"))
    return out


def _one_class(scores: Iterable[Score]) -> list[Suspect]:
    """Runs of a sentence task whose per-class recalls say they predicted a single class."""
    recalls: dict[tuple[int, str], dict[str, float]] = defaultdict(dict)
    about: dict[tuple[int, str], Score] = {}
    for s in scores:
        if s.metric.startswith("recall:") and s.task in TASKS and TASKS[s.task].head == "sentence":
            recalls[(s.run_id, s.language)][s.metric.split(":", 1)[1]] = s.value
            about[(s.run_id, s.language)] = s
    out = []
    for key, per_class in sorted(recalls.items()):
        full = [c for c, r in per_class.items() if r >= 1 - 1e-9]
        if len(per_class) > 1 and len(full) == 1 and all(r <= 1e-9 for c, r in per_class.items() if c != full[0]):
            s = about[key]
            out.append(Suspect("one-class", (s.run_id,), f"run {s.run_id} ({s.system}, {s.task}, {s.setting}, "
                               f"{s.language}, seed {s.seed}) predicted '{full[0]}' for every text"))
    return out


def find_suspects(data: ScoreSet) -> list[Suspect]:
    """Every suspicious result of a selection, on each task's main metric (duplicates: all metrics;
    one class: per-class recalls)."""
    main = _main(data.scores)
    return (_collapsed(main) + _one_class(data.scores) + _outliers(main) + _identical_systems(main)
            + _duplicate_runs(data.scores))


def exclude_runs(data: ScoreSet, runs: Iterable[int]) -> ScoreSet:
    """The same selection without ``runs`` (their scores leave every table and test)."""
    drop = set(runs)
    kept = [s for s in data.scores if s.run_id not in drop]
    return ScoreSet(data.studies, data.split, kept, data.status, sorted({s.run_id for s in kept}), list(data.notes))
