"""`xltui db backup`: a consistent copy of the experiments database while workers write."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from engine.settings import DB_ENV
from xltui.errors import UserError, handle_errors

db_app = typer.Typer(no_args_is_help=True, help="The experiments database itself.")
console = Console(soft_wrap=True)  # messages hold paths: one line each, greppable when piped


@db_app.command("backup")
@handle_errors
def backup(
    target: Annotated[Path, typer.Argument(help="the new file to write the copy to", dir_okay=False)],
    db: Annotated[Optional[str], typer.Option("--db", envvar=DB_ENV, help="database path or URL")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace TARGET if it exists")] = False,
) -> None:
    """Copy a live SQLite database with SQLite's online backup API (workers may go on writing)."""
    from engine.settings import db_url_of, shown_db
    from engine.store.backup import backup_hint, backup_sqlite

    url = db_url_of(db)
    if not url.startswith("sqlite:///"):
        raise UserError(backup_hint(shown_db(url)))
    result = backup_sqlite(Path(url[len("sqlite:///"):]), target, overwrite=force)
    console.print(f"wrote {result.path}: {result.bytes / 1e6:.1f} MB, {result.runs} runs, {result.results} results, "
                  f"in {result.seconds:.2f} s (consistent while workers write; restore by pointing --db at it)",
                  soft_wrap=True, highlight=False)  # one line, the path whole
