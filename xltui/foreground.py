"""`xltui run` without --detach: a local worker in the foreground with a live display.

The worker slots run in threads (they only launch and watch run subprocesses);
the main thread polls the database and redraws. Signals follow the stop policy of a
terminal (engine.runner.stop.TERMINAL): Ctrl-C once: finish the current run and take no
more; twice (or SIGTERM): stop it now, it goes back to the queue.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy.engine import Engine

from engine.runner.slot import Slot, run_slots
from engine.runner.slot_setup import slot_options
from engine.runner.stop import TERMINAL, StopPolicy
from engine.runner.worker import make_slots
from engine.spec import RunStatus
from engine.store.clock import db_now
from engine.store.queries import list_runs, progress_of, study_summaries
from xltui.views import format_duration

REFRESH_S = 0.5


def stop_on_signals(slots: list[Slot], console: Console) -> StopPolicy:
    """A terminal's stop policy (engine.runner.stop.TERMINAL) for these slots (`xltui run`, `xltui worker`):
    first Ctrl-C: stop claiming; second Ctrl-C or SIGTERM: abort the current runs (re-queued)."""
    policy = StopPolicy(TERMINAL, slots, say=lambda message: console.print(f"[yellow]{message}[/]"))
    policy.install()
    return policy


def _render(engine: Engine, study_id: int, bar: Progress, task_id) -> Group:
    summary = next(s for s in study_summaries(engine) if s.id == study_id)
    eta = format_duration(summary.eta_s) if summary.eta_s is not None else "estimating…"
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items()) if n)
    bar.update(task_id, total=summary.total, completed=summary.finished,
               description=f"{summary.name}: {counts} — ETA {eta}")
    running = list_runs(engine, study_id=study_id, statuses=(RunStatus.RUNNING,))
    table = Table(box=None, show_header=bool(running), pad_edge=False)
    for col in ("run", "model", "seed", "device", "step", "loss", "dev", "elapsed"):
        table.add_column(col)
    progress = progress_of(engine, running)
    now = db_now(engine)  # the clock the stored times use
    for run in running:
        p = progress[run.id]
        step = f"{p.step}/{p.total_steps}" if p.step is not None and p.total_steps else "starting"
        table.add_row(str(run.id), f"{run.model_name} ({run.method})", str(run.seed), run.device or "",
                      step, f"{p.loss:.4f}" if p.loss is not None else "",
                      f"{p.dev_score:.4f}" if p.dev_score is not None else "",
                      format_duration(now - (run.started_at or now)))
    return Group(bar, table)


@dataclass
class ForegroundSummary:
    """How the study stands when `xltui run` stops working on it."""

    failed: list[int]
    left: int  # runs of the study still queued or running (the user stopped early)


def run_foreground(engine: Engine, url: str, study_id: int, devices: list[str], lease_s: float,
                   console: Console, cpu_slots: int | None = None, *, warm: bool = True,
                   runs_per_gpu: int | None = 1, checkpoint_every: str | None = None) -> ForegroundSummary:
    """Work through one study's queue here, until it is done or the user stops it (``checkpoint_every``:
    the runs' $XLTUI_CHECKPOINT_EVERY, None: this process's own)."""
    opts = slot_options(url, devices, cpu_slots, runs_per_gpu, lease_s=lease_s, exit_when_idle=True,
                        study_ids=(study_id,), warm=warm, checkpoint_every=checkpoint_every)
    slots = make_slots(engine, opts, runs_per_gpu, console.print)
    stop_on_signals(slots, console)
    threads = run_slots(engine, slots)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console)
    task_id = bar.add_task("", total=None)
    with Live(_render(engine, study_id, bar, task_id), console=console, refresh_per_second=4) as live:
        while any(t.is_alive() for t in threads):
            time.sleep(REFRESH_S)
            live.update(_render(engine, study_id, bar, task_id))
    console.print()
    failed = [r.id for r in list_runs(engine, study_id=study_id, statuses=(RunStatus.FAILED,))]
    return ForegroundSummary(failed, len(list_runs(engine, study_id=study_id, statuses=(RunStatus.QUEUED, RunStatus.RUNNING))))
