"""`xltui grid validate|show`: check a grid and see what it expands to, without running it.

Both go through engine.runner.study (as `xltui run` and the composer do) and only print
its GridReport; the printers here are shared with `xltui run`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from engine.settings import DB_ENV
from xltui.errors import handle_errors

if TYPE_CHECKING:
    from engine.runner.study import GridReport

grid_app = typer.Typer(no_args_is_help=True, help="Check and inspect grid files.")
console = Console(soft_wrap=True)  # messages hold paths: one line each, greppable when piped

GridArg = Annotated[Path, typer.Argument(help="grid YAML file", dir_okay=False)]


def print_design(report: GridReport, out: Console, err: Console, *, detail: bool = True) -> None:
    """Which language adapters are loaded and which trained, and what the grid's seed-level tests can reach
    (engine.analysis.design); warnings, never errors."""
    for line in report.adapter_lines:
        out.print(line, soft_wrap=True, highlight=False)
    if detail:
        for check in report.design:
            out.print(f"seed-level tests: {check.describe()}", soft_wrap=True, highlight=False)
    for warning in report.design_warnings:
        err.print(f"[yellow]warning:[/] {warning}", soft_wrap=True, highlight=False)


def print_data_warnings(report: GridReport, err: Console) -> None:
    """What parsing every data file found that does not block queueing (engine.grid.file_checks)."""
    for warning in report.data_warnings:
        err.print(f"[yellow]warning:[/] {escape(str(warning))}", soft_wrap=True, highlight=False)  # a path may hold [..]


def print_summary(report: GridReport, out: Console) -> None:
    """The line that says what queueing did, the study's name in bold."""
    line = Text(report.summary())
    start = len("study ")
    line.stylize("bold", start, start + len(report.study or ""))
    out.print(line)


@grid_app.command("validate")
@handle_errors
def validate(grid: GridArg) -> None:
    """Check a grid (schema, models, every line of its data files) without queuing anything."""
    from engine.runner.study import check_grid

    report = check_grid(grid)
    print_data_warnings(report, Console(stderr=True, soft_wrap=True))
    report.raise_errors()
    console.print(f"{escape(str(grid))}: ok — study {report.study!r}, {report.n_runs} runs, {report.files_read} data files read",
                  soft_wrap=True, highlight=False)  # one line, however long the path: greppable


@grid_app.command("show")
@handle_errors
def show(
    grid: GridArg,
    db: Annotated[Optional[str], typer.Option("--db", envvar=DB_ENV, help="database to compare with")] = None,
) -> None:
    """The expanded runs, and which are already queued or done in the database."""
    from engine.runner.study import check_grid, read_known
    from engine.settings import db_url_of
    from engine.store.reader import open_reader

    report = check_grid(grid, read_files=False)  # the data files are `grid validate`'s and `run`'s to read
    report.raise_errors()
    url = db_url_of(db)
    if not url.startswith("sqlite:///") or Path(url[len("sqlite:///"):]).exists():  # no database: all new
        with open_reader(db) as reader:
            read_known(report, reader)
    table = Table(title=f"{report.study}: {report.n_runs} runs", title_justify="left")
    for col in ("run", "status", "model", "task/setting", "languages", "seed", "hash"):
        table.add_column(col, no_wrap=col != "languages")
    for r in report.specs:
        run_id, status = report.known.get(r.spec_hash(), (None, "new"))
        setting = r.setting if r.k is None else f"{r.setting} k={r.k}"
        table.add_row(str(run_id or ""), status, f"{r.model_name} ({r.method})", f"{r.task} {setting}",
                      f"{','.join(r.source)}→{','.join(r.targets)}", str(r.seed), r.spec_hash()[:8])
    console.print(table)
    console.print(f"{report.n_succeeded} of {report.n_runs} already succeeded; `xltui run --grid {grid}` queues the rest")
    print_design(report, console, Console(stderr=True, soft_wrap=True))
