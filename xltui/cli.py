"""`xltui` command line: queue a grid, run workers, inspect and steer the queue.

Start-up stays light: typer and rich only at import; the engine (SQLModel,
pydantic) is imported inside each command, and torch never (training runs in
worker subprocesses). `xltui --help` must answer at once on a busy GPU box.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console

from engine.settings import DB_ENV, DEFAULT_LEASE_S, DEFAULT_MAX_ATTEMPTS, WARM_ENV
from xltui import cli_results
from xltui.cli_db import db_app
from xltui.cli_grid import grid_app
from xltui.cli_slurm import CheckpointEveryOpt, slurm_app
from xltui.errors import UserError, handle_errors

if TYPE_CHECKING:
    from engine.store.requests import Transition

app = typer.Typer(
    name="xltui", invoke_without_command=True, add_completion=False, rich_markup_mode="rich",
    help="Cross-lingual transfer experiments: grids → queue → workers → results in SQLite. "
         "Without a command: the terminal app.",
)
app.add_typer(grid_app, name="grid")
app.add_typer(slurm_app, name="slurm")
app.add_typer(db_app, name="db")
app.command("results")(cli_results.results)
app.command("import-results")(cli_results.import_results_cmd)
console = Console(soft_wrap=True)  # messages hold paths: one line each, greppable when piped
err = Console(stderr=True, soft_wrap=True)

DbOpt = Annotated[Optional[str], typer.Option(
    "--db", envvar=DB_ENV, help="database path or SQLAlchemy URL (default: ./experiments.db)")]
CpuOpt = Annotated[bool, typer.Option("--cpu", help="run on the CPU")]
CpuSlotsOpt = Annotated[Optional[int], typer.Option("--cpu-slots", min=1, help="on the CPU: runs side by side, "
                                                    "sharing the cores: one alone uses all (default: "
                                                    "$XLTUI_CPU_SLOTS, else 2 where this process has 2 cores "
                                                    "or more, else 1)")]
GpusOpt = Annotated[Optional[str], typer.Option("--gpus", help="GPU indices, e.g. 0,1 (one slot per GPU)")]
RunsPerGpuOpt = Annotated[Optional[str], typer.Option(
    "--runs-per-gpu", metavar="N|auto", help="runs side by side on each GPU, each in its own process (default 1); "
    "auto: as many as its free memory holds by their measured (else estimated) peak, while the measured "
    "throughput says another run helps")]
LeaseOpt = Annotated[float, typer.Option("--lease", min=1.0, help="lease seconds; a run whose worker stops "
                                         "renewing it for this long is re-queued")]
WarmOpt = Annotated[bool, typer.Option("--warm/--no-warm", envvar=WARM_ENV, help="fork each run from a process "
                                       "that has imported torch and transformers once (saves seconds per run); "
                                       "--no-warm: a fresh interpreter per run")]


@app.callback()
def main_callback(
    ctx: typer.Context,
    db: Annotated[Optional[str], typer.Option(
        "--db", envvar=DB_ENV, help="database path or SQLAlchemy URL for the app (default: ./experiments.db)")] = None,
) -> None:
    """Without a command: open the terminal app on the database."""
    if ctx.invoked_subcommand is None:
        open_app(db)


def open_app(db: str | None) -> None:
    from xltui.launch import open_app as launch_app  # textual only when the app opens; the engine behind its frame

    code = launch_app(db)
    if code:
        raise typer.Exit(code)


@app.command()
@handle_errors
def run(
    grid: Annotated[Path, typer.Option("--grid", "-g", help="grid YAML file", dir_okay=False)],
    db: DbOpt = None,
    detach: Annotated[bool, typer.Option("--detach", help="queue, start a background worker, return")] = False,
    rerun: Annotated[bool, typer.Option("--rerun", help="queue again runs that already finished")] = False,
    priority: Annotated[int, typer.Option("--priority", help="higher runs first")] = 0,
    max_attempts: Annotated[int, typer.Option("--max-attempts", min=1, help="attempts before a run whose "
                                              "worker keeps vanishing is failed")] = DEFAULT_MAX_ATTEMPTS,
    cpu: CpuOpt = False,
    gpus: GpusOpt = None,
    cpu_slots: CpuSlotsOpt = None,
    runs_per_gpu: RunsPerGpuOpt = None,
    lease: LeaseOpt = DEFAULT_LEASE_S,
    warm: WarmOpt = True,
    checkpoint_every: CheckpointEveryOpt = None,
) -> None:
    """Queue a grid's runs and work through them here, with live progress."""
    from engine.runner.admission import runs_per_gpu_for
    from engine.runner.devices import parse_devices
    from engine.runner.study import check_grid, queue_grid
    from engine.store.db import db_url, open_db
    from xltui.cli_grid import print_data_warnings, print_design, print_summary

    devices = parse_devices(cpu, gpus, cpu_slots)  # a bad flag fails before anything is written
    per_gpu = runs_per_gpu_for(devices, runs_per_gpu)
    cadence = _cadence(checkpoint_every)
    checked = check_grid(grid)  # the grid and every data file it names, before the database is even opened
    print_data_warnings(checked, err)
    checked.raise_errors()
    engine = open_db(db)
    if not detach:  # this machine becomes a worker: refused before anything is queued if that would corrupt
        from engine.runner.worker import sqlite_guard

        for warning in sqlite_guard(engine, db_url(db)):
            err.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    print_design(checked, console, err, detail=False)
    queued = queue_grid(engine, checked, rerun=rerun, priority=priority, max_attempts=max_attempts)
    print_summary(checked, console)
    if detach:
        from xltui.detach import start_detached_worker

        pid, log = start_detached_worker(db_url(db), devices, lease, cpu_slots=cpu_slots, warm=warm,
                                         runs_per_gpu=runs_per_gpu if per_gpu != 1 else None,
                                         checkpoint_every=cadence)
        console.print(f"worker started in the background (pid {pid}); log: {log}\n"
                      f"watch it with `xltui status`, stop it with `kill {pid}`")
        return
    from xltui.foreground import run_foreground
    from xltui.views import scores_table

    outcome = run_foreground(engine, db_url(db), queued.study_id, devices, lease, console, cpu_slots, warm=warm,
                             runs_per_gpu=per_gpu, checkpoint_every=cadence)
    console.print(scores_table(engine, queued.study_id))
    if outcome.failed:
        err.print(f"[red]{len(outcome.failed)} run(s) failed[/]: {', '.join(map(str, outcome.failed))} — "
                  "see `xltui status --failed` for why, `xltui retry ID…` to try again")
    if outcome.left:
        err.print(f"[yellow]stopped with {outcome.left} run(s) of {checked.study} not done[/]: they stay queued; "
                  f"`xltui run --grid {grid}` or `xltui worker` continues")
        raise typer.Exit(130)
    if outcome.failed:
        raise typer.Exit(1)


@app.command()
@handle_errors
def worker(
    db: DbOpt = None,
    cpu: CpuOpt = False,
    gpus: GpusOpt = None,
    cpu_slots: CpuSlotsOpt = None,
    runs_per_gpu: RunsPerGpuOpt = None,
    exit_when_idle: Annotated[bool, typer.Option("--exit-when-idle", help="exit when no queued run is left")] = False,
    study: Annotated[Optional[str], typer.Option("--study", help="take runs of this study only")] = None,
    lease: LeaseOpt = DEFAULT_LEASE_S,
    poll: Annotated[float, typer.Option("--poll", min=0.05, help="seconds between queue polls when idle")] = 1.0,
    warm: WarmOpt = True,
    checkpoint_every: CheckpointEveryOpt = None,
) -> None:
    """Long-lived worker: claims queued runs and executes each in its own subprocess."""
    from engine.runner.admission import runs_per_gpu_for
    from engine.runner.devices import parse_devices
    from engine.runner.worker import WorkerProcess
    from engine.store.db import db_url, safe_url
    from xltui.foreground import stop_on_signals

    devices = parse_devices(cpu, gpus, cpu_slots)
    per_gpu = runs_per_gpu_for(devices, runs_per_gpu)
    cadence = _cadence(checkpoint_every)
    try:
        proc = WorkerProcess(db_url(db), devices, cpu_slots=cpu_slots, study=study, notify=console.print,
                             runs_per_gpu=per_gpu, checkpoint_every=cadence,
                             lease_s=lease, poll_s=poll, exit_when_idle=exit_when_idle, warm=warm)
    except LookupError as exc:
        raise UserError(f"--study: no study named {exc.args[0]!r} in {safe_url(db_url(db))}") from None
    for warning in proc.warnings:
        err.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    stop_on_signals(proc.slots, console)
    proc.start()
    where = ', '.join(s.opts.label or s.opts.device for s in proc.slots) if per_gpu == 1 else (
        f"{', '.join(devices)}, " + ("runs per GPU as memory and measured throughput allow" if per_gpu is None
                                     else f"up to {per_gpu} runs per GPU as memory allows"))
    console.print(f"worker on {where} — "
                  f"database {safe_url(db_url(db))}")
    console.print(f"worker stopped after {proc.wait()} run(s)")


@app.command()
@handle_errors
def status(
    db: DbOpt = None,
    study: Annotated[Optional[str], typer.Option("--study", help="only this study")] = None,
    runs: Annotated[bool, typer.Option("--runs", help="list every run, not only active and failed ones")] = False,
    failed: Annotated[bool, typer.Option("--failed", help="show failed runs with their errors")] = False,
) -> None:
    """What is queued / running / done / failed, per study; live workers."""
    from engine.store.reader import open_reader
    from xltui.views import print_status

    with open_reader(db) as reader:
        print_status(reader, console, study=study, all_runs=runs, failed=failed)


@app.command()
@handle_errors
def cancel(run_ids: Annotated[list[int], typer.Argument(help="run ids")], db: DbOpt = None) -> None:
    """Cancel queued or running runs (a running one is stopped within a heartbeat)."""
    from engine.store.db import open_db
    from engine.store.requests import cancel as cancel_runs

    _report(cancel_runs(open_db(db, create=False), run_ids))


@app.command()
@handle_errors
def retry(
    run_ids: Annotated[Optional[list[int]], typer.Argument(help="run ids")] = None,
    db: DbOpt = None,
    study: Annotated[Optional[str], typer.Option("--study", help="retry every failed or cancelled run of it")] = None,
) -> None:
    """Queue failed or cancelled runs again (earlier attempts stay in the database)."""
    from engine.spec import RunStatus
    from engine.store.db import open_db
    from engine.store.queries import list_runs, study_by_name
    from engine.store.requests import retry as retry_runs

    engine = open_db(db, create=False)
    ids = list(run_ids or [])
    if study is not None:
        row = study_by_name(engine, study)
        if row is None:
            raise UserError(f"--study: no study named {study!r}")
        ids += [r.id for r in list_runs(engine, study_id=row.id, statuses=(RunStatus.FAILED, RunStatus.CANCELLED))]
    if not ids:
        raise UserError("give run ids or --study NAME")
    _report(retry_runs(engine, ids))


def _cadence(flag: str | None) -> str | None:
    """The checkpoint cadence this command's runs get (engine.runner.slot_setup.checkpoint_cadence): a bad
    --checkpoint-every or $XLTUI_CHECKPOINT_EVERY is one error line before anything is written."""
    from engine.runner.slot_setup import checkpoint_cadence

    try:
        return checkpoint_cadence(flag)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _report(transitions: dict[int, Transition]) -> None:
    bad = False
    for run_id, t in transitions.items():
        bad |= not t.changed
        (console if t.changed else err).print(f"run {run_id}: {t.message}")
    if bad:
        raise typer.Exit(1)


def main() -> None:
    """The Typer CLI (the `xltui` command starts at xltui.entry, which opens the app without Typer)."""
    app(prog_name="xltui")


if __name__ == "__main__":
    sys.exit(main())
