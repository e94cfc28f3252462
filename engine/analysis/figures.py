"""The paper's figures from the report tables: terminal charts (plotext) and PNG/PDF files.

- macro average per model and setting, bars with SD error bars (one figure per task/metric);
- relative improvement of one system over the strongest baseline in each language;
- with the efficiency table (--efficiency): the macro score against the share of parameters that
  train (log axis), a point per system with its SD as error bar, a panel per setting.

All read only engine.analysis.tables / .efficiency data, so a figure never disagrees with its table.
plotext and matplotlib are imported inside the functions: tables alone stay light.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.analysis.efficiency import EfficiencyTable
from engine.analysis.report import Report
from engine.analysis.tables import AVG, ScoreTable, metric_title

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Bar:
    system: str
    setting: str
    mean: float  # display units (percent for F1/accuracy)
    sd: float  # 0 when undefined (one seed)
    n: int


@dataclass(frozen=True)
class Improvement:
    setting: str
    language: str
    baseline: str  # the strongest baseline in this language and setting
    system_mean: float  # display units
    baseline_mean: float
    relative: float  # 100 * (system - baseline) / baseline, in percent


def macro_bars(table: ScoreTable) -> list[Bar]:
    out = []
    for r in table.rows:
        s = r.cells[AVG].summary
        if s is not None:
            out.append(Bar(r.system, r.setting, s.mean * table.scale, 0.0 if math.isnan(s.sd) else s.sd * table.scale,
                           s.n))
    return out


def relative_improvements(table: ScoreTable, system: str, baselines: Sequence[str]) -> list[Improvement]:
    """Per setting and language: system vs the baseline with the highest mean there."""
    out = []
    for setting in dict.fromkeys(r.setting for r in table.rows):
        rows = {r.system: r for r in table.rows if r.setting == setting}
        if system not in rows:
            continue
        for lang in table.languages:
            mine = rows[system].cells[lang].summary
            others = [(rows[b].cells[lang].summary.mean, b) for b in baselines
                      if b in rows and rows[b].cells[lang].summary is not None]
            if mine is None or not others:
                continue
            best, name = max(others)
            if best == 0:
                continue
            out.append(Improvement(setting, lang, name, mine.mean * table.scale, best * table.scale,
                                   100.0 * (mine.mean - best) / best))
    return out


@dataclass(frozen=True)
class EfficiencyPoint:
    label: str  # the system, with its method when that says more: 'xlmr (full)'
    share: float  # trainable parameters, % of all (the log x axis)
    mean: float  # display units
    sd: float  # 0 when undefined (one seed)
    n: int


Panels = dict[str, list[EfficiencyPoint]]  # setting -> its points


def efficiency_panels(table: EfficiencyTable) -> dict[tuple[str, str], Panels]:
    """(task, metric) -> setting -> a point per system that has a macro score and a stored trainable share."""
    out: dict[tuple[str, str], Panels] = {}
    for r in table.rows:
        s, share = r.score.summary, r.cost("trainable_share")
        if s is None or share is None or share <= 0 or math.isnan(s.mean):
            continue
        label = r.system if r.method in (r.system, "—") else f"{r.system} ({r.method})"
        point = EfficiencyPoint(label, 100.0 * share, s.mean * r.scale, 0.0 if math.isnan(s.sd) else s.sd * r.scale,
                                s.n)
        out.setdefault((r.task, r.metric), {}).setdefault(r.setting, []).append(point)
    return out


def _efficiency_title(task: str, metric: str) -> str:
    return f"{metric_title(task, metric)} against trainable parameters (error bars: SD over seeds)"


Groups = dict[str, list[float]]  # series name (setting) -> one value per label


def macro_groups(table: ScoreTable) -> tuple[list[str], Groups, Groups]:
    """(systems, means per setting, SDs per setting) for the macro-average bar chart."""
    bars = macro_bars(table)
    systems = list(dict.fromkeys(b.system for b in bars))
    settings = list(dict.fromkeys(b.setting for b in bars))
    get = {(b.system, b.setting): b for b in bars}
    means = {s: [get[(m, s)].mean if (m, s) in get else 0.0 for m in systems] for s in settings}
    sds = {s: [get[(m, s)].sd if (m, s) in get else 0.0 for m in systems] for s in settings}
    return systems, means, sds


def improvement_groups(table: ScoreTable, system: str, baselines: Sequence[str]) -> tuple[list[str], Groups]:
    """(languages, relative improvement per setting) for the improvement chart."""
    imps = relative_improvements(table, system, baselines)
    langs = list(dict.fromkeys(i.language for i in imps))
    get = {(i.setting, i.language): i.relative for i in imps}
    settings = list(dict.fromkeys(i.setting for i in imps))
    return langs, {s: [get.get((s, lang), 0.0) for lang in langs] for s in settings}


def _metric_name(t: ScoreTable) -> str:
    return metric_title(t.task, t.metric).replace(" (%)", "")


def _comparison_pairs(report: Report) -> list[tuple[ScoreTable, str, list[str]]]:
    c = report.comparison
    if c is None:
        return []
    return [(t, c.system, c.baselines) for t in report.score_tables if any(r.system == c.system for r in t.rows)]


# ----------------------------------------------------------------------------- terminal (plotext)

_PLOTEXT_LOCK = threading.Lock()  # plotext 5 draws on one module-global figure


def _plotext_bars(labels: list[str], values: list[float], title: str, width: int, height: int, *,
                  errors: list[float] | None = None, horizontal: bool = False, value_fmt: str = "{:.1f}") -> str:
    """One bar chart as plain text (plotext 5's global figure, hence the lock); bars start at 0, so
    negative values point the other way, and each bar carries its value (± SD) as a label."""
    import plotext as plt

    with _PLOTEXT_LOCK:
        plt.clear_figure()
        plt.limit_size(False, False)  # the caller chose the size (a file or a pipe has no terminal)
        plt.plot_size(width, (max(height, 2 * len(labels) + 4) if horizontal else height) - 1)  # - the title line
        texts = [value_fmt.format(v) + (f" ± {e:.1f}" if errors else "") for v, e in zip(values, errors or values)]
        if horizontal:  # the value goes into the axis label: a text past the bar's end would be cut off
            plt.bar([f"{lab} {t}" for lab, t in zip(labels, texts)], values, orientation="horizontal", width=0.6)
        else:
            plt.bar(labels, values, width=0.6)
            positions = list(range(1, len(values) + 1))
            if errors:
                plt.error(positions, values, yerr=errors, color="red")
            for pos, v, text in zip(positions, values, texts):
                plt.text(text, pos, v, alignment="center")
        out = plt.uncolorize(plt.build())
        plt.clear_figure()
    # the title is ours: plotext 5 silently drops one wider than the plot area
    lines = [title.center(width).rstrip()] + [line.rstrip() for line in out.splitlines()]
    return "\n".join(lines)


def terminal_macro_chart(table: ScoreTable, width: int = 100, height: int = 20) -> list[str]:
    """Figure 1/2 in the terminal: one chart per setting, bars labelled mean ± SD."""
    systems, means, sds = macro_groups(table)
    return [_plotext_bars(systems, means[s], f"{metric_title(table.task, table.metric)}, {s}: macro average "
                          f"± SD over seeds", width, height, errors=sds[s]) for s in means]


def terminal_improvement_chart(table: ScoreTable, system: str, baselines: Sequence[str], width: int = 100,
                               height: int = 20) -> list[str]:
    """Figure 3 in the terminal: one horizontal chart per setting, a bar per language."""
    langs, groups = improvement_groups(table, system, baselines)
    return [_plotext_bars(langs, groups[s], f"{system} vs best baseline, {s}: relative {_metric_name(table)} "
                          f"change (%)", width, height, horizontal=True, value_fmt="{:+.1f}")
            for s in groups]


def _decades(low: float, high: float) -> list[float]:
    """The powers of ten between ``low`` and ``high`` (none above 100 %): the ticks of a log axis."""
    return [10.0 ** e for e in range(math.ceil(math.log10(low)), math.floor(math.log10(high)) + 1) if e <= 2]


def _plotext_scatter(points: list[EfficiencyPoint], title: str, width: int, height: int) -> str:
    """Score against trainable share on a log x axis (log10 drawn on a linear one, ticks at the decades:
    plotext's own log scale mislays limits), each point labelled with its mean ± SD and drawn with its SD.
    A label runs to the right of its point, or to its left in the right half of the plot."""
    import plotext as plt

    xs, ys = [math.log10(p.share) for p in points], [p.mean for p in points]
    left, right = min(xs) - 0.5, max(xs) + 0.5  # half a decade of room on either side
    ticks = _decades(10 ** left, 10 ** right)
    bottom, top = min(p.mean - p.sd for p in points), max(p.mean + p.sd for p in points)
    pad = max(0.15 * (top - bottom), 0.5)  # room above and below the error bars
    with _PLOTEXT_LOCK:
        plt.clear_figure()
        plt.limit_size(False, False)
        plt.plot_size(width, height - 1)  # - the title line
        plt.xlim(left, right)
        plt.ylim(bottom - pad, top + pad)
        plt.xticks([math.log10(t) for t in ticks], [f"{t:g}" for t in ticks])
        plt.error(xs, ys, yerr=[p.sd for p in points], color="red")
        plt.scatter(xs, ys, marker="dot")
        for x, p in zip(xs, points):
            text = f"{p.label} {p.mean:.1f}" + (f" ± {p.sd:.1f}" if p.n > 1 else "")
            on_left = x > (left + right) / 2
            plt.text(f"{text} " if on_left else f" {text}", x, p.mean, alignment="right" if on_left else "left")
        plt.xlabel("trainable parameters (% of all, log scale)")
        out = plt.uncolorize(plt.build())
        plt.clear_figure()
    lines = [title.center(width).rstrip()] + [line.rstrip() for line in out.splitlines()]
    return "\n".join(lines)


def terminal_efficiency_chart(table: EfficiencyTable, width: int = 100, height: int = 20) -> list[str]:
    """The efficiency figure in the terminal: one chart per task and setting."""
    return [_plotext_scatter(points, f"{metric_title(task, metric)}, {setting}: score against trainable "
                             f"parameters (± SD over seeds)", width, height)
            for (task, metric), panels in efficiency_panels(table).items() for setting, points in panels.items()]


def terminal_charts(report: Report, width: int = 100, height: int = 20) -> list[str]:
    charts = [c for t in report.score_tables for c in terminal_macro_chart(t, width, height)]
    charts += [c for t, s, b in _comparison_pairs(report) for c in terminal_improvement_chart(t, s, b, width, height)]
    if report.efficiency is not None:
        charts += terminal_efficiency_chart(report.efficiency, width, height)
    return charts


# ----------------------------------------------------------------------------- files (matplotlib, Agg)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")


def _grouped_bars(labels: list[str], groups: dict[str, list[float]], errors: dict[str, list[float]] | None,
                  title: str, ylabel: str, paths: list[Path]) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(6.0, 0.5 * len(labels) * max(1, len(groups)) + 2), 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(groups))
    for i, (name, values) in enumerate(groups.items()):
        xs = [j + (i - (len(groups) - 1) / 2) * width for j in range(len(labels))]
        ax.bar(xs, values, width, yerr=errors[name] if errors else None, capsize=3 if errors else 0, label=name)
    ax.set_xticks(range(len(labels)), labels, rotation=45 if len(labels) > 6 else 0,
                  ha="right" if len(labels) > 6 else "center")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.axhline(0, color="black", linewidth=0.6)
    if len(groups) > 1:
        ax.legend()
    for path in paths:
        meta = {"CreationDate": None} if path.suffix == ".pdf" else {"Software": None} if path.suffix == ".png" else {}
        fig.savefig(path, dpi=200, metadata=meta)


def _save(fig: Figure, paths: list[Path]) -> None:
    for path in paths:
        meta = {"CreationDate": None} if path.suffix == ".pdf" else {"Software": None} if path.suffix == ".png" else {}
        fig.savefig(path, dpi=200, metadata=meta)


def _efficiency_figure(panels: Panels, title: str, ylabel: str, paths: list[Path]) -> None:
    """A panel per setting (one y axis), a point per system with its SD, in one colour per system
    across panels; x: trainable share, log scale, ticks as plain percentages."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(max(5.0, 4.2 * len(panels)), 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    labels = list(dict.fromkeys(p.label for points in panels.values() for p in points))
    for ax, (setting, points) in zip(axes, panels.items()):
        low, high = min(p.share for p in points) / 3, max(p.share for p in points) * 3
        middle = math.sqrt(low * high)  # the middle of the log axis: labels of points right of it go left
        for p in points:
            ax.errorbar([p.share], [p.mean], yerr=[p.sd], fmt="o", capsize=3, color=f"C{labels.index(p.label) % 10}")
            right = p.share > middle
            ax.annotate(p.label, (p.share, p.mean), textcoords="offset points", xytext=(-5 if right else 5, 4),
                        ha="right" if right else "left", fontsize=8)
        ax.set_xscale("log")
        ax.set_xlim(low, high)  # room for the labels, and a visible axis when every point is at one x
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.set_title(setting)
        ax.set_xlabel("trainable parameters (% of all, log scale)")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel(ylabel)
    fig.suptitle(title)
    _save(fig, paths)


def write_figures(report: Report, directory: str | Path, formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Write every figure of the report as PNG and PDF; returns the paths written."""
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for t in report.score_tables:
        systems, means, sds = macro_groups(t)
        if not systems:
            continue
        paths = [out_dir / f"macro-{_slug(t.task)}-{_slug(t.metric)}.{ext}" for ext in formats]
        _grouped_bars(systems, means, sds, f"{metric_title(t.task, t.metric)}: macro average over "
                      f"{len(t.languages)} languages (error bars: SD over seeds)", metric_title(t.task, t.metric),
                      paths)
        written += paths
    for t, system, baselines in _comparison_pairs(report):
        langs, groups = improvement_groups(t, system, baselines)
        if not langs:
            continue
        paths = [out_dir / f"improvement-{_slug(t.task)}-{_slug(t.metric)}-{_slug(system)}.{ext}"
                 for ext in formats]
        _grouped_bars(langs, groups, None, f"{system} vs the strongest of {', '.join(baselines)} per language",
                      f"relative change in {_metric_name(t)} (%)", paths)
        written += paths
    if report.efficiency is not None:
        for (task, metric), panels in efficiency_panels(report.efficiency).items():
            paths = [out_dir / f"efficiency-{_slug(task)}-{_slug(metric)}.{ext}" for ext in formats]
            _efficiency_figure(panels, _efficiency_title(task, metric), metric_title(task, metric), paths)
            written += paths
    return written
