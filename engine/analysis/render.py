"""Renderers of the report tables: rich (terminal), tidy CSV, Markdown, JSON; LaTeX in render_latex.

Formatting only: every number comes from engine.analysis.tables. CSV and JSON carry the
numbers unrounded in stored units (fractions); the others show percentages with
one decimal (differences with two) as a paper would.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from dataclasses import asdict

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from engine.analysis.cells import (
    COMPARISON_HEADER,
    OPTIONAL_COLUMNS,
    comparison_cells,
    fmt_cell,
    fmt_num,
    fmt_p,
    perm_label,
    shown_columns,
)
from engine.analysis.comparison import POOLED, ComparisonRow, ComparisonTable
from engine.analysis.efficiency import (
    COST_METRICS,
    EfficiencyRow,
    EfficiencyTable,
    efficiency_cells,
    efficiency_header,
    shown_efficiency_columns,
)
from engine.analysis.render_latex import latex_document, latex_escape, to_latex
from engine.analysis.report import Report
from engine.analysis.tables import AVG, Cell, ScoreTable

__all__ = ["COMPARISON_HEADER", "FORMATS", "OPTIONAL_COLUMNS", "comparison_cells", "csv_rows", "fmt_cell", "fmt_num",
           "fmt_p", "latex_document", "latex_escape", "perm_label", "render", "report_dict", "rich_efficiency_table",
           "rich_report", "shown_columns", "to_csv", "to_json", "to_latex", "to_markdown", "to_text"]

FORMATS = ("table", "csv", "latex", "markdown", "json")


# ----------------------------------------------------------------------------- rich


def rich_score_table(table: ScoreTable, width: int = 120) -> Table:
    """Languages as columns; transposed (languages as rows) when that would not fit ``width``."""
    labels = [f"{r.system}\n{r.setting}" for r in table.rows]
    transpose = 22 + 13 * len(table.columns) > width
    out = Table(title=table.title, title_justify="left", box=box.SIMPLE_HEAD, caption=table.caption,
                caption_justify="left")
    cell = lambda c: Text(fmt_cell(c, table.scale) + (f"\n{c.seeds_label}" if c.incomplete else ""),
                          style="bold" if c.best else ("yellow" if c.incomplete else ""))
    if transpose:
        out.add_column("language")
        for label in labels:
            out.add_column(label, justify="right")
        for col in table.columns:
            out.add_row(col, *(cell(r.cells[col]) for r in table.rows), end_section=col == table.columns[-2])
    else:
        out.add_column("model")
        out.add_column("setting")
        for col in table.columns:
            out.add_column(col, justify="right")
        for r in table.rows:
            out.add_row(r.system, r.setting, *(cell(r.cells[c]) for c in table.columns))
    return out


def rich_comparison_table(table: ComparisonTable) -> Table:
    """Columns that are the same on every row (one task, one setting) move into the title."""
    constant = {i for i, name in enumerate(COMPARISON_HEADER) if name in ("task", "setting")
                and len({comparison_cells(r)[i] for r in table.rows}) == 1}
    if not any(r.language != POOLED for r in table.rows):
        constant.add(COMPARISON_HEADER.index("p_min"))
    constant |= set(range(len(COMPARISON_HEADER))) - set(shown_columns(table))
    title = table.title
    if table.rows:
        title += "".join(f", {comparison_cells(table.rows[0])[i]}" for i in sorted(constant) if i < 3)
    out = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, caption=table.caption,
                caption_justify="left")
    keep = [i for i in range(len(COMPARISON_HEADER)) if i not in constant]
    short = {"language": "lang", "n_pairs": "n", "n_dropped": "drop", "perm. (n)": "perm."}
    for i in keep:
        name = COMPARISON_HEADER[i]
        out.add_column(short.get(name, name), justify="left" if i < 4 else "right", overflow="fold",
                       no_wrap=name == "95% CI")
    for row in table.rows:
        cells = comparison_cells(row)
        out.add_row(*(cells[i] for i in keep), style="bold" if row.mark else "")
    return out


def rich_efficiency_table(table: EfficiencyTable) -> Table:
    """Score against cost, a row per system × task × setting (peak GPU only when a run measured it; the
    task in the title when there is only one)."""
    header, keep = efficiency_header(table), shown_efficiency_columns(table)
    tasks = {r.task for r in table.rows}
    title = table.title
    if len(tasks) == 1:
        title += f", {tasks.pop()}"
        keep = [i for i in keep if header[i] != "task"]
    out = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, caption=table.caption,
                caption_justify="left")
    for i in keep:
        out.add_column(header[i], justify="left" if i < 4 else "right", no_wrap=i >= 4)
    for row in table.rows:
        cells = efficiency_cells(row)
        out.add_row(*(Text(cells[i], style="bold" if i == 4 and row.score.best else "") for i in keep))
    return out


def rich_report(report: Report, width: int = 120) -> RenderableType:
    parts: list[RenderableType] = [rich_score_table(t, width) for t in report.score_tables]
    if report.comparison is not None:
        parts.append(rich_comparison_table(report.comparison))
    if report.efficiency is not None:
        parts.append(rich_efficiency_table(report.efficiency))
    warnings = report.all_warnings
    if warnings:
        parts.append(Text("Warnings:", style="bold yellow"))
        parts += [Text(f"  ! {w}", style="yellow") for w in warnings]
    return Group(*parts)


def to_text(report: Report, width: int = 160) -> str:
    """The terminal rendering as plain text (for -o FILE)."""
    console = Console(file=io.StringIO(), width=width, no_color=True, color_system=None)
    console.print(rich_report(report, width))
    return console.file.getvalue()


# ----------------------------------------------------------------------------- CSV (tidy)

CSV_COLUMNS = ["table", "task", "metric", "split", "setting", "system", "baseline", "language", "n", "n_expected",
               "n_pending", "n_failed", "mean", "sd", "ci_low", "ci_high", "best", "seeds", "n_pairs", "n_dropped",
               "mean_a", "mean_b", "mean_diff", "diff_ci_low", "diff_ci_high", "p_perm", "perm_exact",
               "n_permutations", "p_min", "t", "df", "p_t", "sw_w", "sw_p", "t_doubtful", "d_z", "d_av", "p_holm",
               "mark", "replicated_k", "replicated_n", "replication_method", "seeds_80", "power_at_seeds",
               "power_level", "aso_eps_min", "aso_confidence", "aso_comparisons", "aso_iterations", "aso_seed",
               "sent_delta", "sent_ci_low", "sent_ci_high", "sent_p", "sent_p_holm", "sent_p_one_sided", "sent_side",
               "sent_resamples", "sent_seed", "sent_strata", "sent_sentences", "sent_missing", "sent_method",
               "sent_replicated_k", "sent_replicated_n", "sent_note", "runs", "note"]
# with --efficiency only (other exports keep their header): a row's method and its mean stored costs
EFFICIENCY_CSV_COLUMNS = ["method", "n_runs", "n_costed", *COST_METRICS]


def csv_columns(report: Report) -> list[str]:
    return CSV_COLUMNS + (EFFICIENCY_CSV_COLUMNS if report.efficiency is not None else [])


def _raw(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return repr(x) if isinstance(x, float) else str(x)


def csv_rows(report: Report) -> list[dict[str, str]]:
    rows = []
    for t in report.score_tables:
        for r in t.rows:
            for lang, c in r.cells.items():
                s = c.summary
                rows.append(dict(table="scores", task=t.task, metric=t.metric, split=t.split, setting=r.setting,
                                 system=r.system, language="macro-avg" if lang == AVG else lang, n=c.n,
                                 n_expected=c.n_expected, n_pending=c.n_pending, n_failed=c.n_failed,
                                 mean=s and s.mean, sd=s and s.sd, ci_low=s and s.ci_low, ci_high=s and s.ci_high,
                                 best=int(c.best), seeds=" ".join(map(str, c.seeds))))
    if report.comparison is not None:
        for row in report.comparison.rows:
            r = row.result
            rows.append(dict(table="comparison", task=row.task, metric=row.metric, split=report.split,
                             setting=row.setting, system=row.system, baseline=row.baseline, language=row.language,
                             n_pairs=r.n_pairs, n_dropped=r.n_dropped, mean_a=row.mean_a, mean_b=row.mean_b,
                             mean_diff=r.mean_diff, diff_ci_low=r.ci_low, diff_ci_high=r.ci_high,
                             p_perm=r.permutation.p, perm_exact=int(r.permutation.exact),
                             n_permutations=r.permutation.n_permutations, p_min=r.permutation.p_min, t=r.t_test.t,
                             df=r.t_test.df, p_t=r.t_test.p, d_z=r.d_z, d_av=r.d_av, p_holm=row.p_holm,
                             mark=row.mark, **_extra_columns(row)))
    if report.efficiency is not None:
        rows += _efficiency_rows(report.efficiency)
    for sus in report.suspects:  # the warnings a reader of the CSV alone must also see
        rows.append(dict(table="suspect", split=report.split, mark=sus.kind, runs=" ".join(map(str, sus.runs)),
                         note=sus.message))
    if report.excluded:
        rows.append(dict(table="excluded", split=report.split, runs=" ".join(map(str, report.excluded)),
                         note="left out of every table and test (--exclude-runs)"))
    return [{k: _raw(row.get(k)) for k in csv_columns(report)} for row in rows]


def _efficiency_rows(table: EfficiencyTable) -> list[dict]:
    """The efficiency table in the tidy CSV: its score as a macro-average cell, its costs unrounded."""
    rows = []
    for r in table.rows:
        c, s = r.score, r.score.summary
        rows.append(dict(table="efficiency", task=r.task, metric=r.metric, split=table.split, setting=r.setting,
                         system=r.system, language="macro-avg", n=c.n, n_expected=c.n_expected,
                         n_pending=c.n_pending, n_failed=c.n_failed, mean=s and s.mean, sd=s and s.sd,
                         ci_low=s and s.ci_low, ci_high=s and s.ci_high, seeds=" ".join(map(str, c.seeds)),
                         runs=" ".join(map(str, r.run_ids)), method=r.method, n_runs=r.n_runs,
                         n_costed=r.n_costed, **r.costs))
    return rows


def _extra_columns(row: ComparisonRow) -> dict:
    """Normality, replicability and power of one comparison row, as CSV cells."""
    sw, rep, power = row.result.normality, row.replication, row.power
    out: dict = {"t_doubtful": int(row.t_doubtful)}
    if sw is not None:
        out.update(sw_w=sw.w, sw_p=sw.p)
    if rep is not None:
        out.update(replicated_k=rep.k, replicated_n=rep.n, replication_method=f"partial conjunction, {rep.method}")
    if power is not None:
        out.update(seeds_80=power.seeds if power.seeds is not None else f">{power.max_seeds}",
                   power_at_seeds=power.power, power_level=power.level)
    if row.aso is not None:
        out.update(aso_eps_min=row.aso.eps_min, aso_confidence=row.aso.confidence,
                   aso_comparisons=row.aso.comparisons, aso_iterations=row.aso.iterations, aso_seed=row.aso.seed)
    if (sent := row.sentence) is not None:
        out.update(sent_missing=sent.missing, sent_note=sent.note)
        if (r := sent.result) is not None:
            out.update(sent_delta=r.delta, sent_ci_low=r.ci_low, sent_ci_high=r.ci_high, sent_p=r.p,
                       sent_p_holm=sent.p_holm, sent_p_one_sided=r.p_one_sided, sent_side=r.side,
                       sent_resamples=r.resamples, sent_seed=r.seed, sent_strata=r.strata, sent_sentences=r.sentences,
                       sent_method=r.method)
        if (rep := sent.replication) is not None:
            out.update(sent_replicated_k=rep.k, sent_replicated_n=rep.n)
    return out


def to_csv(report: Report) -> str:
    """One row per cell (scores) or per test (comparison), numbers unrounded, fractions as stored."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, csv_columns(report), lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(report))
    return buf.getvalue()


# ----------------------------------------------------------------------------- Markdown


def _md(text: str) -> str:
    return str(text).replace("|", r"\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[str]], right_from: int) -> list[str]:
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    return ["| " + " | ".join(map(_md, header)) + " |", "| " + " | ".join(align) + " |",
            *("| " + " | ".join(r) + " |" for r in rows)]


def markdown_score_table(t: ScoreTable) -> str:
    def cell(c: Cell) -> str:
        text = fmt_cell(c, t.scale)
        text = f"**{text}**" if c.best else text
        return text + (f" ({c.seeds_label})" if c.incomplete else "")

    rows = [[_md(r.system), _md(r.setting), *(cell(r.cells[c]) for c in t.columns)] for r in t.rows]
    lines = [f"### {t.title}", "", *_md_table(["model", "setting", *t.columns], rows, 2), "", f"*{_md(t.caption)}*"]
    return "\n".join(lines) + "\n"


def markdown_comparison_table(t: ComparisonTable) -> str:
    keep = shown_columns(t)
    rows = [[_md(comparison_cells(row, minus="-")[i]) for i in keep] for row in t.rows]
    lines = [f"### {t.title}", "", *_md_table([COMPARISON_HEADER[i] for i in keep], rows, 4), "", f"*{_md(t.caption)}*"]
    return "\n".join(lines) + "\n"


def markdown_efficiency_table(t: EfficiencyTable) -> str:
    keep, header = shown_efficiency_columns(t), efficiency_header(t)
    bold = lambda row, i, text: f"**{text}**" if i == 4 and row.score.best else text
    rows = [[bold(row, i, _md(efficiency_cells(row)[i])) for i in keep] for row in t.rows]
    lines = [f"### {t.title}", "", *_md_table([header[i] for i in keep], rows, 4), "", f"*{_md(t.caption)}*"]
    return "\n".join(lines) + "\n"


def to_markdown(report: Report) -> str:
    parts = [markdown_score_table(t) for t in report.score_tables]
    if report.comparison is not None:
        parts.append(markdown_comparison_table(report.comparison))
    if report.efficiency is not None:
        parts.append(markdown_efficiency_table(report.efficiency))
    if report.all_warnings:
        parts.append("**Warnings**\n\n" + "\n".join(f"- {_md(w)}" for w in report.all_warnings) + "\n")
    return "\n".join(parts)


# ----------------------------------------------------------------------------- JSON


def _clean(x):
    if isinstance(x, float):
        return None if math.isnan(x) or math.isinf(x) else x
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def report_dict(report: Report) -> dict:
    """The whole report as JSON-ready data (nan → null), numbers unrounded, fractions as stored."""
    def cell(c: Cell) -> dict:
        stats = asdict(c.summary) if c.summary else dict.fromkeys(("mean", "sd", "ci_low", "ci_high"))
        return {**{k: v for k, v in asdict(c).items() if k != "summary"}, **stats, "n": c.n}

    tables = [dict(task=t.task, metric=t.metric, split=t.split, title=t.title, caption=t.caption, scale=t.scale,
                   languages=t.languages, warnings=t.warnings,
                   rows=[dict(system=r.system, setting=r.setting, cells={k: cell(c) for k, c in r.cells.items()})
                         for r in t.rows]) for t in report.score_tables]
    comparison = None
    if (c := report.comparison) is not None:
        rows = [{**{k: v for k, v in asdict(row).items() if k != "result"}, **asdict(row.result)} for row in c.rows]
        comparison = dict(system=c.system, baselines=c.baselines, title=c.title, caption=c.caption,
                          per_language=c.per_language, warnings=c.warnings, rows=rows)
    out = dict(studies=report.studies, split=report.split, score_tables=tables, comparison=comparison,
               suspects=[asdict(s) for s in report.suspects], excluded=report.excluded, warnings=report.all_warnings)
    if (e := report.efficiency) is not None:  # only with --efficiency: other exports keep their keys
        out["efficiency"] = dict(title=e.title, caption=e.caption, split=e.split, has_gpu=e.has_gpu,
                                 warnings=e.warnings, rows=[_efficiency_dict(r, cell) for r in e.rows])
    return _clean(out)


def _efficiency_dict(row: EfficiencyRow, cell: Callable[[Cell], dict]) -> dict:
    """One efficiency row: its score cell as the score tables' cells are, every cost metric (null: none)."""
    return dict(system=row.system, task=row.task, setting=row.setting, method=row.method, metric=row.metric,
                scale=row.scale, score=cell(row.score), run_ids=list(row.run_ids), n_runs=row.n_runs,
                n_costed=row.n_costed, costs={m: row.costs.get(m) for m in COST_METRICS})


def to_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False) + "\n"


RENDERERS: dict[str, Callable[[Report], str]] = {"table": to_text, "csv": to_csv, "latex": to_latex,
                                                   "markdown": to_markdown, "json": to_json}


def render(report: Report, fmt: str) -> str:
    if fmt not in RENDERERS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return RENDERERS[fmt](report)
