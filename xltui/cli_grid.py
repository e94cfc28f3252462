"""`xltui grid validate|show`: check a grid and see what it expands to, without running it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.settings import DB_ENV
from xltui.errors import handle_errors

grid_app = typer.Typer(no_args_is_help=True, help="Check and inspect grid files.")
console = Console()

GridArg = Annotated[Path, typer.Argument(help="grid YAML file", dir_okay=False)]


def print_design(specs, out: Console, err: Console, *, detail: bool = True) -> None:
    """What the grid's seed-level tests can reach (engine.analysis.design); warnings, never errors."""
    from engine.analysis.design import design_check

    checks = design_check(specs)
    if detail:
        for check in checks:
            out.print(f"seed-level tests: {check.describe()}", soft_wrap=True, highlight=False)
    for check in checks:
        for warning in check.warnings():
            err.print(f"[yellow]warning:[/] {warning}", soft_wrap=True, highlight=False)


def check_data_files(specs, err: Console) -> int:
    """Parse every data file the runs read (engine.grid.file_checks): warnings printed, errors raised."""
    from engine.grid.file_checks import check_files

    report = check_files(specs)
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(str(warning))}", soft_wrap=True, highlight=False)  # a path may hold [..]
    report.raise_errors()
    return report.files


@grid_app.command("validate")
@handle_errors
def validate(grid: GridArg) -> None:
    """Check a grid (schema, models, every line of its data files) without queuing anything."""
    from engine.grid.expand import expand
    from engine.grid.schema import load_grid

    spec = load_grid(grid)
    runs = expand(spec)
    files = check_data_files(runs, Console(stderr=True))
    console.print(f"{grid}: ok — study {spec.study!r}, {len(runs)} runs, {files} data files read")


@grid_app.command("show")
@handle_errors
def show(
    grid: GridArg,
    db: Annotated[Optional[str], typer.Option("--db", envvar=DB_ENV, help="database to compare with")] = None,
) -> None:
    """The expanded runs, and which are already queued or done in the database."""
    from engine.grid.expand import expand
    from engine.grid.schema import load_grid
    from engine.settings import db_url_of
    from engine.store.reader import open_reader

    spec = load_grid(grid)
    runs = expand(spec)
    known: dict[str, tuple[int, str]] = {}
    url = db_url_of(db)
    if not url.startswith("sqlite:///") or Path(url[len("sqlite:///"):]).exists():  # no database: all new
        with open_reader(db) as reader:
            known = {h: (i, status) for h, i, status in reader.rows(
                "SELECT r.spec_hash, r.id, r.status FROM run r JOIN study s ON s.id = r.study_id "
                "WHERE s.name = :study", {"study": spec.study})}
    table = Table(title=f"{spec.study}: {len(runs)} runs", title_justify="left")
    for col in ("run", "status", "model", "task/setting", "languages", "seed", "hash"):
        table.add_column(col, no_wrap=col != "languages")
    for r in runs:
        run_id, status = known.get(r.spec_hash(), (None, "new"))
        setting = r.setting if r.k is None else f"{r.setting} k={r.k}"
        table.add_row(str(run_id or ""), status, f"{r.model_name} ({r.method})", f"{r.task} {setting}",
                      f"{','.join(r.source)}→{','.join(r.targets)}", str(r.seed), r.spec_hash()[:8])
    console.print(table)
    from engine.spec import RunStatus  # the engine is loaded by now (load_grid); not at `xltui` start-up

    done = sum(1 for r in runs if known.get(r.spec_hash(), (0, ""))[1] == RunStatus.SUCCEEDED)
    console.print(f"{done} of {len(runs)} already succeeded; `xltui run --grid {grid}` queues the rest")
    print_design(runs, console, Console(stderr=True))
