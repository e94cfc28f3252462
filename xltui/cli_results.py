"""`xltui results` (paper tables, tests and figures) and `xltui import-results` (external baselines).

The engine is imported inside each command, as in xltui.cli, so `xltui --help`
stays light; matplotlib is imported only when --figures asks for files.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from engine.settings import DB_ENV
from xltui.errors import UserError, handle_errors

console = Console(soft_wrap=True)  # messages hold paths: one line each, greppable when piped
err = Console(stderr=True, soft_wrap=True)

DbOpt = Annotated[Optional[str], typer.Option(
    "--db", envvar=DB_ENV, help="database path or SQLAlchemy URL (default: ./experiments.db)")]
FORMATS = ("table", "csv", "latex", "markdown", "json")


def parse_compare(text: str, systems: list[str]) -> tuple[str, list[str]]:
    """'madx:xlmr' or 'madx:xlmr,mbert' → ('madx', ['xlmr', 'mbert']), every name checked."""
    system, sep, rest = text.partition(":")
    baselines = [b.strip() for b in rest.split(",") if b.strip()]
    if not sep or not system.strip() or not baselines:
        raise UserError(f"--compare: expected SYSTEM:BASELINE[,BASELINE...], got {text!r}")
    system = system.strip()
    unknown = [s for s in [system, *baselines] if s not in systems]
    if unknown:
        raise UserError(f"--compare: no results for {', '.join(map(repr, unknown))}; systems: {', '.join(systems)}")
    if system in baselines:
        raise UserError(f"--compare: {system!r} cannot be its own baseline")
    return system, baselines


def parse_exclude(text: str | None) -> list[int | str]:
    """'12,15' or 'suspicious' or 'suspicious,40' → [12, 15] / ['suspicious'] / ['suspicious', 40].

    Raises ValueError (build_results_report words it as an --exclude-runs error)."""
    out: list[int | str] = []
    for item in filter(None, (t.strip() for t in (text or "").split(","))):
        if item == "suspicious":
            out.append(item)
        elif item.isdigit():
            out.append(int(item))
        else:
            raise ValueError(f"expected run ids or 'suspicious', separated by commas; got {item!r}")
    return out


def build_results_report(source, studies: list[str], *, tasks: list[str] | None = None, metric: str | None = None,
                         compare: str | None = None, per_language: bool = False, split: str = "test",
                         resamples: int = 100_000, exclude: str | None = None, aso: int | None = None,
                         sentence_resamples: int = 10_000, efficiency: bool = False):
    """The report `xltui results` prints and exports (the TUI's Results screen builds the same one).

    ``source`` is an engine or an ``engine.store.reader`` reader; ``efficiency`` adds the efficiency
    table (engine.analysis.efficiency: score against what trains and what it costs).

    Raises UserError, in the CLI's words, when there is nothing to report.
    """
    from engine.analysis.leakage import find_leaks
    from engine.analysis.report import build_report
    from engine.analysis.scores import ScoresError, read_scores

    try:
        data = read_scores(source, studies, split=split, tasks=tasks)
    except ScoresError as exc:
        raise UserError(str(exc)) from None
    if not data.scores:
        runs = sum(s.expected for s in data.status.values())
        raise UserError(f"no {split} results yet in {', '.join(studies)}"
                        + (f" ({runs} run-language cells queued, running or failed)" if runs else ""))
    pair = parse_compare(compare, data.systems) if compare else None
    costs = None
    if efficiency:
        from engine.analysis.efficiency import read_costs

        costs = read_costs(source, studies, tasks=tasks)
    leaks, problems = find_leaks(source, data.run_ids)
    predictions = None
    if sentence_resamples:
        from engine.analysis.sentence_level import prediction_paths

        predictions = prediction_paths(source, data.run_ids, split)
    try:
        exclude_ids = parse_exclude(exclude)
        report = build_report(data, compare_with=pair, metric=metric, per_language=per_language,
                              leak_notes=[leak.describe() for leak in leaks] + problems, n_resamples=resamples,
                              exclude=exclude_ids, aso_iterations=aso, predictions=predictions,
                              sentence_resamples=sentence_resamples, costs=costs)
    except ValueError as exc:  # a malformed --exclude-runs, or an id that is not in the selection
        raise UserError(f"--exclude-runs: {exc}") from None
    if not report.score_tables:
        raise UserError(f"no {metric or 'primary-metric'} scores in {', '.join(studies)}")
    if report.comparison is None and not compare:
        report.warnings.append("no paired tests: no MAD-X system in these runs; pass --compare SYSTEM:BASELINE")
    return report


@handle_errors
def results(
    studies: Annotated[list[str], typer.Argument(help="study name(s); several are reported together")],
    db: DbOpt = None,
    task: Annotated[Optional[list[str]], typer.Option("--task", help="only this task (repeatable)")] = None,
    metric: Annotated[Optional[str], typer.Option("--metric", help="metric to report (default: each task's "
                                                  "main metric: f1 for ner, accuracy for pos, weighted_f1 for sentiment)")] = None,
    compare: Annotated[Optional[str], typer.Option("--compare", metavar="SYSTEM:BASELINE[,...]", help=(
        "paired tests of SYSTEM vs each BASELINE (default: madx vs every other system, if there is a madx)"))] = None,
    per_language: Annotated[bool, typer.Option("--per-language", help="also test each language on its own "
                                               "(with few seeds these cannot reach p < 0.05; see p_min)")] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help=f"one of {', '.join(FORMATS)}")] = "table",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="write here instead of stdout",
                                                   dir_okay=False)] = None,
    figures: Annotated[Optional[Path], typer.Option("--figures", help="write the figures (PNG and PDF) into "
                                                    "this directory", file_okay=False)] = None,
    charts: Annotated[bool, typer.Option("--charts", help="draw the figures in the terminal too")] = False,
    split: Annotated[str, typer.Option("--split", help="evaluation split to report")] = "test",
    resamples: Annotated[int, typer.Option("--resamples", min=1, help="Monte Carlo permutations when there are "
                                           "too many pairs for the exact test")] = 100_000,
    exclude_runs: Annotated[Optional[str], typer.Option("--exclude-runs", metavar="IDS|suspicious", help=(
        "leave these runs out of every table and test (comma-separated run ids, or 'suspicious' for every "
        "collapsed, outlier or duplicate run the warnings name)"))] = None,
    aso: Annotated[bool, typer.Option("--aso", help="add ε_min of Almost Stochastic Order (deepsig) to every "
                                      "comparison row: seconds per row")] = False,
    aso_iterations: Annotated[int, typer.Option("--aso-iterations", min=10, help="bootstrap iterations of "
                                                "each ASO test")] = 1000,
    sentence_resamples: Annotated[int, typer.Option("--sentence-resamples", min=0, help=(
        "bootstrap resamples of the sentence-level test over stored test predictions (0: no sentence-level "
        "test)"))] = 10_000,
    efficiency: Annotated[bool, typer.Option("--efficiency", help=(
        "add the efficiency table after the others: per system × task × setting its method, macro score "
        "(mean ± SD), trainable parameters (count, %), s/step, peak RSS (and peak GPU memory), runs; in every "
        "--format (CSV rows table=efficiency with their own columns, a JSON 'efficiency' key), and with "
        "--figures/--charts the score against trainable share (log x axis)"))] = False,
) -> None:
    """Paper tables from stored runs: mean ± SD per model × setting × language, paired tests, figures.

    With --efficiency, also what each method costs: trainable parameters, time per step and peak memory
    beside its score (as every run stored them when it trained).
    """
    if fmt not in FORMATS:
        raise UserError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    from engine.analysis.render import render, rich_report
    from engine.store.reader import open_reader

    with open_reader(db) as reader:  # SQLite without importing SQLAlchemy (engine.store.reader says why)
        report = build_results_report(reader, studies, tasks=task, metric=metric, compare=compare,
                                      per_language=per_language, split=split, resamples=resamples,
                                      exclude=exclude_runs, aso=aso_iterations if aso else None,
                                      sentence_resamples=sentence_resamples, efficiency=efficiency)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(render(report, fmt), encoding="utf-8")
        err.print(f"wrote {output}")
    elif fmt == "table":  # a pipe or a file gets the full width rather than 80 folded columns
        out = console if console.is_terminal else Console(width=200, soft_wrap=True)
        out.print(rich_report(report, out.width))
    else:
        sys.stdout.write(render(report, fmt))
    if fmt != "table" or output is not None:  # warnings must reach the reader even when stdout is a file
        for warning in report.all_warnings:
            err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if charts:
        from engine.analysis.figures import terminal_charts

        for chart in terminal_charts(report, width=min(console.width, 140) if console.is_terminal else 110):
            (console if output is None and fmt == "table" else err).print(chart, highlight=False, markup=False)
    if figures is not None:
        from engine.analysis.figures import write_figures

        for path in write_figures(report, figures):
            err.print(f"wrote {path}")


@handle_errors
def import_results_cmd(
    file: Annotated[Path, typer.Argument(help="CSV: language,model,run,<metric>... (wide) or "
                                         "language,model,run,metric,value (long)", dir_okay=False)],
    db: DbOpt = None,
    study: Annotated[Optional[str], typer.Option("--study", help="study name (default: the file name)")] = None,
    task: Annotated[str, typer.Option("--task", help="task of every row")] = "ner",
    setting: Annotated[str, typer.Option("--setting", help="setting of every row")] = "in-language",
    split: Annotated[str, typer.Option("--split", help="evaluation split the values are from")] = "test",
    percent: Annotated[bool, typer.Option("--percent", help="values are percentages (0-100), not fractions")] = False,
) -> None:
    """Import published or external per-run results as an external study (all or nothing)."""
    from engine.analysis.import_results import ResultsFileError, import_results, read_results_csv
    from engine.store.db import open_db

    try:
        rows = read_results_csv(file, percent=percent)  # a bad file fails before the database is touched
        report = import_results(open_db(db), file, study=study, task=task, setting=setting, split=split,
                                percent=percent, rows=rows)
    except ResultsFileError as exc:
        raise UserError(str(exc)) from None
    console.print(f"study [bold]{report.study}[/] (external): {report.runs_new} runs imported "
                  f"({report.results_new} results), {report.runs_existing} already there — "
                  f"{len(report.models)} models × {len(report.languages)} languages", highlight=False, soft_wrap=True)
