"""What a method costs next to what it scores: the efficiency table of a selection of runs.

Adapters are worth their trouble only if they reach a full fine-tune's score while training a
fraction of its parameters, so a reader needs the two side by side: one row per (system, task,
setting) with the method as tables name it (``RunSpec.method_label``), the main score exactly as
the score tables show it (the macro average over target languages, mean ± SD over seeds) and
what the runs of that cell cost, as each stored it with its train scores
(engine.training.loop.speed_stats): parameters that train (count and share), seconds per
optimizer step, peak resident memory and, on a GPU, peak GPU memory.

Costs are read with the score tables' own rule (only a succeeded run's latest attempt counts,
through engine.analysis.scores.read_scores) and joined to the test scores by run id, so a row's
costs are those of exactly the runs whose scores it shows, and runs left out of the tables
(``--exclude-runs``) leave the costs too. Pure functions and plain data: engine.analysis.render
and .figures only format what is here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.analysis.cells import fmt_cell
from engine.analysis.scores import ScoreSet, read_scores, resolve_studies
from engine.analysis.tables import AVG, METRIC_NAMES, Cell, display_scale, score_table
from engine.states import MAIN_METRIC, RunStatus
from engine.store.reader import Reader, placeholders, reading

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["COST_METRICS", "Costs", "EfficiencyRow", "EfficiencyTable", "efficiency_cells", "efficiency_header",
           "efficiency_table", "fmt_bytes", "fmt_count", "fmt_share", "method_label", "read_costs",
           "shown_efficiency_columns"]

# what engine.training.loop.speed_stats stores with a run's train scores and this table reads
COST_METRICS = ("n_params", "n_trainable", "trainable_share", "s_per_step", "peak_rss_bytes", "peak_gpu_bytes",
                "tokens_per_s", "train_seconds", "steps")


@dataclass(frozen=True)
class Costs:
    """Per run: what it stored about its cost, and its method as tables name it."""

    per_run: dict[int, dict[str, float]]  # run id -> cost metric -> value
    labels: dict[int, str]  # run id -> 'full', 'madx', 'madx+lora r=8', 'lora alpha=16 r=8', ...


def method_label(spec_json: str, method: str) -> str:
    """The spec's ``method_label``; a spec this xltui cannot read (an imported study's, an older
    one) is named by its stored method, so one odd run never stops a table."""
    from engine.spec import RunSpec, parse_spec  # pydantic: only when costs are asked for

    try:
        spec = parse_spec(spec_json)
        return spec.method_label if isinstance(spec, RunSpec) else method
    except Exception:  # invalid JSON, a schema this version rejects, a madx run without madx params
        return method


def _labels(reader: Reader, study_ids: Sequence[int]) -> dict[int, str]:
    marks, params = placeholders("study", list(study_ids))
    rows = reader.rows(f"SELECT id, method, spec_json FROM run WHERE study_id IN ({marks}) AND status = :ok",
                       {**params, "ok": RunStatus.SUCCEEDED.value})
    return {run_id: method_label(spec_json, method) for run_id, method, spec_json in rows}


def read_costs(source: Engine | Reader, studies: Sequence[str], *, tasks: Collection[str] | None = None) -> Costs:
    """The stored costs and method labels of the succeeded runs of ``studies`` (latest attempts only)."""
    with reading(source) as reader:
        ids = resolve_studies(reader, studies)
        train = read_scores(reader, studies, split="train", tasks=tasks, metrics=COST_METRICS)
        labels = _labels(reader, list(ids.values()))
    per_run: dict[int, dict[str, float]] = defaultdict(dict)
    for s in train.scores:
        per_run[s.run_id][s.metric] = s.value
    return Costs(dict(per_run), labels)


# ----------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class EfficiencyRow:
    system: str
    task: str
    setting: str
    method: str  # the runs' method label ('a / b' when runs of one row differ: a warning says so)
    metric: str
    score: Cell  # the score table's macro-average cell: mean ± SD over seeds, stored units; best: bold
    run_ids: tuple[int, ...]  # the runs with a score in this row
    n_costed: int  # how many of them stored costs
    costs: dict[str, float]  # cost metric -> mean over the runs that stored it

    @property
    def n_runs(self) -> int:
        return len(self.run_ids)

    @property
    def scale(self) -> float:
        return display_scale(self.metric)

    def cost(self, name: str) -> float | None:
        return self.costs.get(name)


@dataclass
class EfficiencyTable:
    """Score against cost: one row per system × task × setting."""

    split: str
    rows: list[EfficiencyRow]
    caption: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def has_gpu(self) -> bool:
        """Whether any run measured its peak GPU memory (its column is shown only then)."""
        return any(r.cost("peak_gpu_bytes") is not None for r in self.rows)

    @property
    def metrics(self) -> list[str]:
        return list(dict.fromkeys(r.metric for r in self.rows))

    @property
    def title(self) -> str:
        return "Efficiency: score against what trains and what it costs"


def efficiency_table(data: ScoreSet, costs: Costs, *, metric: str | None = None,
                     systems: Sequence[str] = ()) -> EfficiencyTable:
    """One row per (system, task, setting) of ``data`` (already without excluded runs), in the score
    tables' order; ``metric`` as in build_report (default: each task's main metric)."""
    table = EfficiencyTable(data.split, [])
    for task in data.tasks:
        name = metric or MAIN_METRIC.get(task, "f1")
        scores = score_table(data, task, name, systems)
        if scores is None:
            continue
        runs: dict[tuple[str, str], set[int]] = defaultdict(set)
        for s in data.scores:
            if s.task == task and s.metric == name:
                runs[(s.system, s.setting)].add(s.run_id)
        for r in scores.rows:
            row = _row(r.system, task, r.setting, name, r.cells[AVG], sorted(runs[(r.system, r.setting)]), costs)
            table.rows.append(row)
    table.warnings = _warnings(table, costs)
    table.caption = _caption(table)
    return table


def _row(system: str, task: str, setting: str, metric: str, score: Cell, run_ids: list[int],
         costs: Costs) -> EfficiencyRow:
    labels = sorted({costs.labels[i] for i in run_ids if i in costs.labels})
    stored = [costs.per_run[i] for i in run_ids if costs.per_run.get(i)]
    means = {}
    for name in COST_METRICS:
        values = [c[name] for c in stored if name in c]
        if values:
            means[name] = sum(values) / len(values)
    return EfficiencyRow(system, task, setting, " / ".join(labels) or "—", metric, score, tuple(run_ids),
                         len(stored), means)


def _where(row: EfficiencyRow) -> str:
    return f"{row.system} ({row.task}, {row.setting})"


def _warnings(table: EfficiencyTable, costs: Costs) -> list[str]:
    out = []
    none = [_where(r) for r in table.rows if r.n_costed == 0]
    if none:
        out.append(f"no costs stored for {', '.join(none)} (imported results, or runs from before xltui "
                   "stored them): their cost columns are empty")
    out += [f"{_where(r)}: costs from {r.n_costed} of {r.n_runs} runs (the others stored none)"
            for r in table.rows if 0 < r.n_costed < r.n_runs]
    out += [f"{_where(r)}: runs of different methods in one row ({r.method}); give them different model names"
            for r in table.rows if " / " in r.method]
    return out


def _caption(t: EfficiencyTable) -> str:
    names = ", ".join(f"{METRIC_NAMES.get(m, m)}" for m in t.metrics) or "the main metric"
    gpu = " and peak GPU memory" if t.has_gpu else ""
    return (f"Score: {names} on the {t.split} split, the macro average over target languages, mean ± SD over "
            f"seeds (as in the score tables; bold: the best within a task and setting). Costs: means over the row's runs as each stored them when it "
            f"trained: trainable parameters (count, and % of all parameters), seconds per optimizer step, peak "
            f"resident memory{gpu}. Seconds and memory depend on the machine and the batch size: compare them "
            f"between runs on one kind of device.")


# ----------------------------------------------------------------------------- display strings


def fmt_count(x: float | None) -> str:
    """278M, 1.49M, 12.3k: parameter counts as papers write them."""
    if x is None:
        return "—"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= size:
            return f"{x / size:.3g}{unit}"
    return f"{x:.0f}"


def fmt_share(x: float | None) -> str:
    """A 0-1 share as a percentage with three significant digits: 100, 0.894, 0.0312."""
    return "—" if x is None else f"{100 * x:.3g}"


def fmt_bytes(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x / 2**30:.1f} GiB" if x >= 2**30 else f"{x / 2**20:.0f} MiB"


def fmt_seconds(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}"


def efficiency_header(table: EfficiencyTable) -> list[str]:
    """Every column's name; the score's says its metric when the table has only one."""
    metrics = table.metrics
    unit = " (%)" if all(display_scale(m) == 100.0 for m in metrics) else ""
    score = (METRIC_NAMES.get(metrics[0], metrics[0]) if len(metrics) == 1 else "score") + unit
    return ["system", "task", "setting", "method", score, "trainable", "trainable %", "s/step", "peak RSS",
            "peak GPU", "runs"]


def shown_efficiency_columns(table: EfficiencyTable) -> list[int]:
    """Indices of efficiency_header to show: peak GPU only when some run measured it."""
    return [i for i in range(11) if i != 9 or table.has_gpu]


def efficiency_cells(row: EfficiencyRow, pm: str = "±") -> list[str]:
    """One row as display strings, in efficiency_header's order."""
    return [row.system, row.task, row.setting, row.method, fmt_cell(row.score, row.scale, pm),
            fmt_count(row.cost("n_trainable")), fmt_share(row.cost("trainable_share")),
            fmt_seconds(row.cost("s_per_step")), fmt_bytes(row.cost("peak_rss_bytes")),
            fmt_bytes(row.cost("peak_gpu_bytes")), str(row.n_runs)]
