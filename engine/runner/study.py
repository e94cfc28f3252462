"""A grid taken to the queue, once for every caller: load, data files, design, what is known, plan, queue.

``xltui run``, ``xltui grid validate|show`` and the composer (screen 2) all go through
here and only show the ``GridReport`` it returns, so their messages and counts agree
word for word. The stages are separate calls because the database must stay
untouched by bad input: ``check_grid`` reads the grid and every data file it names
and opens no database; only a report that is ``ok`` is queued (``queue_grid``),
after the caller has opened the database.

1. ``check_grid``: the grid file (or the composer's text as that file) read with line
   numbers, validated, expanded into RunSpecs, every data file parsed
   (engine.grid.file_checks), and what the grid's seed-level tests can reach
   (engine.analysis.design). Blocking problems are ``errors``; data and design
   warnings never block.
2. ``read_known``: which of its runs the database already has (per study, by spec
   hash, with id and status); ``estimate_seconds`` prices the rest from finished runs.
3. ``queue_grid``: plan (engine.runner.plan: language adapters, few-shot parents) and
   queue in one transaction; ``summary`` is the line the CLI and the composer print.

Light: no SQLAlchemy until ``queue_grid`` (``xltui grid show`` reads a SQLite file
through ``sqlite3``), never torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.analysis.design import DesignCheck, design_check
from engine.data.refs import DataError
from engine.grid.expand import expand, language_adapters
from engine.grid.schema import Grid, validate_grid
from engine.grid.yamlfile import GridError, GridIssue, parse_yaml, read_grid_text
from engine.spec import RunSpec
from engine.states import RunStatus
from engine.store.queue_reads import runs_by_hash
from engine.store.reader import Reader, reading

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from engine.store.queries import Durations
    from engine.store.queue import EnqueueReport

__all__ = ["GridReport", "check_grid", "estimate_seconds", "queue_grid", "read_known"]


@dataclass
class GridReport:
    """One grid through every check, what the database already holds of it, and what queueing did."""

    file: str  # the grid file as the user named it: every message starts with it
    text: str | None = None  # the text checked (stored with the study when queued); None: unreadable
    error: GridError | DataError | None = field(default=None, repr=False)  # what blocks queueing, if anything
    grid: Grid | None = None
    specs: list[RunSpec] = field(default_factory=list)
    data_warnings: list[GridIssue] = field(default_factory=list)  # 'file:line: message' of data files; not blocking
    files_read: int = 0  # data files parsed (0 when the files were not read)
    design: list[DesignCheck] = field(default_factory=list)  # per (task, setting): what seed-level tests can reach
    known: dict[str, tuple[int, str]] = field(default_factory=dict)  # spec hash -> (run id, status) in the database
    queued: EnqueueReport | None = None  # set by queue_grid

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def errors(self) -> list[str]:
        """Every blocking problem, one line each, as the CLI prints them after ``error: ``."""
        if self.error is None:
            return []
        return str(self.error).splitlines() or [self.error.__class__.__name__]

    @property
    def issues(self) -> list[GridIssue]:
        """The blocking problems with their file, line and field (a DataError has none)."""
        return list(self.error.issues) if isinstance(self.error, GridError) else []

    def raise_errors(self) -> None:
        """Raise what blocks queueing (GridError or DataError: a user error, exit 2 in the CLI)."""
        if self.error is not None:
            raise self.error

    @property
    def study(self) -> str | None:
        return self.grid.study if self.grid is not None else None

    @property
    def n_runs(self) -> int:
        return len(self.specs)

    @property
    def spec_hashes(self) -> list[str]:
        return [s.spec_hash() for s in self.specs]

    @property
    def adapter_lines(self) -> list[str]:
        """Which language adapters each MAD-X entry loads (released) and which it trains."""
        return language_adapters(self.specs)

    @property
    def design_warnings(self) -> list[str]:
        return [w for check in self.design for w in check.warnings()]

    @property
    def n_known(self) -> int:
        """Runs of the grid already in the database (queueing leaves them alone)."""
        return sum(1 for h in self.spec_hashes if h in self.known)

    @property
    def n_new(self) -> int:
        return self.n_runs - self.n_known

    @property
    def n_succeeded(self) -> int:
        return sum(1 for h in self.spec_hashes if self.known.get(h, (0, ""))[1] == RunStatus.SUCCEEDED)

    def summary(self) -> str:
        """What queueing did, in one line: ``study S: N runs in the grid — a new, b re-queued, c already …``."""
        if self.queued is None:
            raise ValueError("summary() of a grid that was not queued (queue_grid)")
        q = self.queued
        return (f"study {self.study}: {self.n_runs} runs in the grid — {len(q.new)} new, "
                f"{len(q.requeued)} re-queued, {len(q.existing)} already in the database")


def check_grid(path: str | Path, text: str | None = None, *, read_files: bool = True) -> GridReport:
    """Everything that can be known of a grid without a database; never raises for bad input.

    ``text``: check it as the file ``path`` (the composer's unsaved text: relative model
    and data paths resolve beside ``path``); None reads the file. ``read_files``: parse
    every data file the runs read (``xltui grid show`` skips it; the references are
    resolved either way).
    """
    report = GridReport(str(path))
    try:
        report.text = read_grid_text(path) if text is None else text
        report.grid = validate_grid(parse_yaml(report.text, path))
        report.specs = expand(report.grid)
        if read_files:
            from engine.grid.file_checks import check_files  # the readers only when files are read

            files = check_files(report.specs)
            report.data_warnings, report.files_read = list(files.warnings), files.files
            files.raise_errors()
    except (GridError, DataError) as exc:
        report.error = exc
        return report
    report.design = design_check(report.specs)
    return report


def read_known(report: GridReport, source: Engine | Reader) -> GridReport:
    """Fill ``report.known`` with the runs of its study already in the database (a Reader or an Engine)."""
    if report.study is not None:
        with reading(source) as reader:
            report.known = runs_by_hash(reader, report.study)
    return report


def estimate_seconds(report: GridReport, durations: Durations) -> float | None:
    """Serial duration of the runs not yet in the database (``read_known``): the mean of finished
    runs of the same (model, method, task), else of all finished runs; None when none finished."""
    total = 0.0
    for spec in report.specs:
        if spec.spec_hash() in report.known:
            continue
        mean = durations.by_key.get((spec.model_name, spec.method, spec.task), durations.overall)
        if mean is None:
            return None
        total += mean
    return total


def queue_grid(engine: Engine, report: GridReport, *, record_path: bool = True, **options) -> EnqueueReport:
    """Plan and queue the runs of a checked grid in one transaction; also kept as ``report.queued``.

    ``record_path``: the study remembers the grid file's absolute path (the text is stored
    either way). ``options``: ``rerun``, ``priority``, ``max_attempts`` (engine.store.queue.enqueue).
    """
    report.raise_errors()
    from engine.runner.plan import queue_runs  # SQLAlchemy only when something is queued

    assert report.grid is not None
    report.queued = queue_runs(engine, report.grid.study, report.specs,
                               grid_path=str(Path(report.file).resolve()) if record_path else None,
                               grid_text=report.text, **options)
    return report.queued
