"""The composer's grid text checked, counted, estimated, saved and queued the CLI's way.

Validation is `xltui grid validate`'s path (parse → validate_grid → expand → data files) on the
text as it would be saved, so messages and line numbers match the CLI's word for
word; enqueue is `xltui run --grid`'s call to engine.runner.plan.queue_runs. Everything
here may touch the disk or the database: the screen calls it from a thread worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from engine.store.queries import Durations

CLI_ERROR = "error: "  # the CLI's prefix for every line of a user error (xltui.errors)


@dataclass
class GridCheck:
    """One validation of the composer's text, with what the database already has."""

    file: str
    errors: list[str] = field(default_factory=list)  # the CLI's lines, 'error: file:line: field: message'
    study: str | None = None
    spec_hashes: list[str] = field(default_factory=list)
    keys: list[tuple[str, str, str]] = field(default_factory=list)  # (model name, method, task) per run
    design: list[tuple[str, bool]] = field(default_factory=list)  # (line, warns): what seed-level tests can reach
    design_warnings: list[str] = field(default_factory=list)  # the CLI's warnings; shown, never blocking
    data_warnings: list[str] = field(default_factory=list)  # 'file:line: message' of the data files; not blocking

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def n_runs(self) -> int:
        return len(self.spec_hashes)


def check_text(text: str, path: str | Path) -> GridCheck:
    """Validate grid text as the file ``path`` (relative model and data paths resolve beside it)."""
    from engine.data.refs import DataError
    from engine.grid.expand import expand
    from engine.grid.file_checks import check_files
    from engine.grid.schema import validate_grid
    from engine.grid.yamlfile import GridError, parse_yaml

    out = GridCheck(str(path))
    try:
        grid = validate_grid(parse_yaml(text, path))
        specs = expand(grid)
        files = check_files(specs)  # every line of every data file, as `xltui grid validate` reads them
        out.data_warnings = [str(w) for w in files.warnings]
        files.raise_errors()
    except (GridError, DataError) as exc:
        out.errors = [CLI_ERROR + line for line in str(exc).splitlines() or [exc.__class__.__name__]]
        return out
    out.study = grid.study
    out.spec_hashes = [s.spec_hash() for s in specs]
    out.keys = [(s.model_name, s.method, s.task) for s in specs]
    from engine.analysis.design import design_check

    checks = design_check(specs)
    out.design = [(c.short(), bool(c.warnings())) for c in checks]
    out.design_warnings = [w for c in checks for w in c.warnings()]
    return out


# ----------------------------------------------------------------------------- database


def estimate_seconds(check: GridCheck, known: set[str], durations: Durations) -> float | None:
    """Serial duration of the runs not yet in the database: same (model, method, task) mean, else all runs."""
    total = 0.0
    for h, key in zip(check.spec_hashes, check.keys):
        if h in known:
            continue
        mean = durations.by_key.get(key, durations.overall)
        if mean is None:
            return None
        total += mean
    return total


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown (no finished runs yet)"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


# ----------------------------------------------------------------------------- save, enqueue


def save_text(text: str, path: Path, *, overwrite: bool = False) -> bool:
    """Write the grid file; False (nothing written) when another file is there and ``overwrite`` is off."""
    if path.exists() and not overwrite and path.read_text(encoding="utf-8") != text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def enqueue_text(engine: Engine, text: str, path: str | Path, *, saved: bool) -> tuple[GridCheck, str]:
    """Queue the grid's new runs like `xltui run --grid` does; returns the check and the CLI's summary line.

    ``saved``: the text is the file at ``path`` (recorded as the study's grid path, as the CLI does).
    """
    from engine.grid.expand import expand
    from engine.grid.schema import validate_grid
    from engine.grid.yamlfile import parse_yaml
    from engine.runner.plan import queue_runs

    check = check_text(text, path)
    if not check.ok:
        return check, ""
    grid = validate_grid(parse_yaml(text, path))
    specs = expand(grid)
    report = queue_runs(engine, grid.study, specs, grid_path=str(Path(path).resolve()) if saved else None,
                     grid_text=text)
    return check, (f"study {grid.study}: {len(specs)} runs in the grid — {len(report.new)} new, "
                   f"{len(report.requeued)} re-queued, {len(report.existing)} already in the database")
