"""What the Results screen asks for, as the `xltui results` flags it stands for.

One ResultsQuery is both the screen's selection and a CLI command line, so an export
from the screen names the exact command that writes the same bytes, and both go
through xltui.cli_results.build_results_report.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from engine.analysis.comparison import ComparisonTable
    from engine.analysis.report import Report

EXPORTS = {"csv": "csv", "latex": "tex", "markdown": "md"}  # --format -> file suffix
METRICS = ("f1", "precision", "recall", "accuracy", "weighted_f1", "macro_f1")  # every task's (engine.tasks)


@dataclass(frozen=True)
class ResultsQuery:
    """A study and the table options; '' means the CLI's default (no flag)."""

    study: str
    task: str = ""
    metric: str = ""
    compare: str = ""  # SYSTEM:BASELINE[,BASELINE...]
    per_language: bool = False
    efficiency: bool = False  # the efficiency table too (--efficiency)

    def cli_args(self, fmt: str | None = None, output: Path | None = None) -> list[str]:
        """The `xltui results` arguments that build the same report."""
        args = ["results", self.study]
        for flag, value in (("--task", self.task), ("--metric", self.metric), ("--compare", self.compare)):
            if value:
                args += [flag, value]
        if self.per_language:
            args.append("--per-language")
        if self.efficiency:
            args.append("--efficiency")
        if fmt:
            args += ["--format", fmt]
        if output is not None:
            args += ["-o", str(output)]
        return args

    def command(self, fmt: str | None = None, output: Path | None = None) -> str:
        return "xltui " + shlex.join(self.cli_args(fmt, output))

    def stem(self) -> str:
        """A file name saying what was chosen: 'smoke', 'smoke-ner-f1-madx-perlang-efficiency'."""
        system = self.compare.partition(":")[0]
        parts = [self.study, self.task, self.metric, system, "perlang" if self.per_language else "",
                 "efficiency" if self.efficiency else ""]
        return re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(p for p in parts if p))

    def export_path(self, directory: Path, fmt: str) -> Path:
        return directory / _slug(self.study) / f"{self.stem()}.{EXPORTS[fmt]}"

    def figures_dir(self, directory: Path) -> Path:
        return directory / _slug(self.study) / f"{self.stem()}-figures"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text) or "study"


def comparison_choices(systems: list[str]) -> list[tuple[str, str]]:
    """(label, --compare value): the default, then each system against all the others."""
    out = [("tests: default (MAD-X vs rest)", "")]
    for s in systems:
        others = [o for o in systems if o != s]
        if others:
            out.append((f"tests: {s} vs rest", f"{s}:{','.join(others)}"))
    return out


def write_export(report: Report, query: ResultsQuery, directory: Path, fmt: str) -> Path:
    """Write one export exactly as `xltui results ... --format FMT -o FILE` would; returns the path."""
    from engine.analysis.render import render

    path = query.export_path(directory, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(report, fmt), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- on screen


def _width(renderable: RenderableType) -> int:
    console = Console(width=1000)
    return Measurement.get(console, console.options, renderable).maximum


def narrow_comparison_table(table: ComparisonTable) -> Table:
    """Table C turned on its side (a column per test) for terminals too narrow for its 15 columns.

    The cells are engine.analysis.render's own strings, so nothing differs from the exports but the layout.
    """
    from engine.analysis.render import COMPARISON_HEADER, comparison_cells, shown_columns

    rows = [comparison_cells(r) for r in table.rows]
    out = Table(title=table.title, title_justify="left", box=box.SIMPLE_HEAD, caption=table.caption,
                caption_justify="left")
    out.add_column("")
    tasks = {r.task for r in table.rows}
    for r in table.rows:
        label = "\n".join(([r.task] if len(tasks) > 1 else []) + [r.baseline, r.setting, r.language])
        out.add_column(label, justify="right", style="bold" if r.mark else "")
    for i in shown_columns(table):
        if COMPARISON_HEADER[i] not in ("baseline", "task", "setting", "language"):
            out.add_row(COMPARISON_HEADER[i], *(cells[i] for cells in rows))
    return out


def tables_view(report: Report, width: int) -> tuple[RenderableType, int]:
    """The Tables tab and the width it needs: Table C goes on its side, or scrolls, when it does not fit."""
    from engine.analysis.render import rich_comparison_table, rich_score_table

    parts: list[RenderableType] = [rich_score_table(t, width) for t in report.score_tables]
    need = max([width, *(_width(p) for p in parts)])
    if report.comparison is not None:
        table: Table = rich_comparison_table(report.comparison)
        if _width(table) > width:
            narrow = narrow_comparison_table(report.comparison)
            table = narrow if _width(narrow) < _width(table) else table
        need = max(need, _width(table))
        parts.append(table)
    if report.all_warnings:
        parts.append(Text("Warnings:", style="bold yellow"))
        parts += [Text(f"  ! {w}", style="yellow") for w in report.all_warnings]
    return Group(*parts), need


EFFICIENCY_HINT = ("What each method costs beside its score: press $ (or `xltui results STUDY --efficiency`) "
                   "for the efficiency table — method, macro score, trainable parameters and share, s/step, "
                   "peak memory — as the runs stored them when they trained.")


def efficiency_view(report: Report, width: int) -> tuple[RenderableType, int]:
    """The Costs tab and the width it needs: the efficiency table and its own warnings, or how to ask for it."""
    from engine.analysis.render import rich_efficiency_table

    if report.efficiency is None:
        return Text(EFFICIENCY_HINT), width
    table = rich_efficiency_table(report.efficiency)
    parts: list[RenderableType] = [table]
    if report.efficiency.warnings:
        parts.append(Text("Warnings:", style="bold yellow"))
        parts += [Text(f"  ! {w}", style="yellow") for w in report.efficiency.warnings]
    return Group(*parts), max(width, _width(table))
