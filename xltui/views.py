"""Rich renderings of the queue shared by `xltui status` and the foreground display, and the
one duration format (``format_duration``) the CLI and the app's screens all use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group
from rich.table import Table

from engine.states import MAIN_METRIC, RunStatus
from engine.store.queue_reads import (
    Resume,
    latest_resumes,
    live_workers,
    progress_of,
    run_rows,
    study_id_of,
    study_summaries,
    waiting_runs,
)
from engine.store.reader import Reader, server_now
from engine.tasks import TASKS

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

SCORE_TITLES = {"ner": "F1 (entity-level, strict IOB2)"}  # a task's run table as `xltui run` always titled it
STATUS_STYLE = {RunStatus.QUEUED: "cyan", RunStatus.RUNNING: "yellow", RunStatus.SUCCEEDED: "green", RunStatus.FAILED: "red",
                RunStatus.CANCELLED: "dim"}


def job_label(job_id: str | None, job_index: int | None) -> str:
    """A worker's cluster job as Slurm writes it ("1234_0": array 1234, task 0); a job id without
    its task (submitit's local executor) gets the index after it."""
    if job_id is None:
        return "—"
    return job_id if "_" in job_id or job_index is None else f"{job_id}#{job_index}"


def format_duration(seconds: float | None) -> str:
    """Every duration the CLI and the app show: ``5s``, ``2m05s``, ``1h02m``; empty for None."""
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def resume_text(resume: Resume | None) -> str:
    """How a run's latest attempt continued, in the words `xltui status`, the run list and the run
    detail all use: "resumed at step N of M (attempt k)"; empty when it started from step 0."""
    if resume is None:
        return ""
    of = f" of {resume.total_steps}" if resume.total_steps else ""
    return f"resumed at step {resume.step}{of} (attempt {resume.attempt})"


def resume_mark(resume: Resume) -> str:
    """One resume in the run detail's list of them: which attempt, where, and the work it redid."""
    of = f" of {resume.total_steps}" if resume.total_steps else ""
    redid = f" (redid {resume.redone} step{'s' if resume.redone != 1 else ''})" if resume.redone else ""
    return f"attempt {resume.attempt} resumed at step {resume.step}{of}{redid}"


def first_line(text: str | None, width: int = 100) -> str:
    if not text:
        return ""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def studies_table(reader: Reader, only: str | None = None) -> Table:
    table = Table(title="Studies", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("study", no_wrap=True)
    for status in RunStatus:
        table.add_column(status, justify="right", style=STATUS_STYLE[status])
    table.add_column("done", justify="right")
    table.add_column("ETA", justify="right")
    for s in study_summaries(reader):
        if only and s.name != only:
            continue
        eta = "—" if s.eta_s is None else ("done" if s.eta_s == 0 else format_duration(s.eta_s))
        table.add_row(s.name, *(str(s.counts.get(st, 0)) for st in RunStatus), f"{s.finished}/{s.total}", eta)
    return table


def runs_table(reader: Reader, title: str, runs) -> Table:
    progress = progress_of(reader, [r for r in runs if r.status == RunStatus.RUNNING])
    resumes = latest_resumes(reader, [r.attempt_id for r in runs if r.attempt_id is not None])
    now = server_now(reader)  # the clock the stored times use
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("id", "status", "model", "setting", "languages", "seed", "device", "progress", "time"):
        table.add_column(col, no_wrap=col != "progress", min_width=12 if col == "progress" else None)
    for r in runs:
        p = progress.get(r.id)
        prog = first_line(r.error, 40)
        if p is not None and p.step is not None:
            prog = f"{p.step}/{p.total_steps or '?'} loss {p.loss:.3f}"
        resumed = resume_text(resumes.get(r.id))
        prog = "\n".join(filter(None, (prog, resumed)))
        end = r.finished_at or (now if r.status == RunStatus.RUNNING else None)
        elapsed = format_duration(end - r.started_at) if end and r.started_at else ""
        table.add_row(str(r.id), f"[{STATUS_STYLE[r.status]}]{r.status}[/]", f"{r.model_name} ({r.method})",
                      f"{r.task}/{r.setting}", f"{r.source}→{r.targets}", str(r.seed), r.device or "", prog, elapsed)
    return table


def scores_table(engine: Engine, study_id: int) -> Group:
    """Per task, per succeeded run: the source dev score it was selected on and each target's test score,
    on the task's main metric (engine.tasks)."""
    from engine.analysis.tables import metric_title
    from engine.store.queries import list_runs, run_scores

    tables = []
    succeeded = list_runs(engine, study_id=study_id, statuses=(RunStatus.SUCCEEDED,))
    for task in sorted({r.task for r in succeeded}):
        runs = [r for r in succeeded if r.task == task]
        entry = TASKS.get(task)
        metric = entry.main_metric if entry else MAIN_METRIC.get(task, "f1")
        scores = run_scores(engine, runs, metric)
        targets = sorted({lang for r in runs for lang in r.targets.split(",")})
        title = SCORE_TITLES.get(task) or metric_title(task, metric)
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
        for col in ("run", "model", "seed", "source dev", *targets):
            table.add_column(col, justify="right" if col not in ("model",) else "left")
        for r in runs:
            s = scores.get(r.id, {})
            cell = lambda key: f"{100 * s[key]:.1f}" if key in s else "—"
            table.add_row(str(r.id), f"{r.model_name} ({r.method})", str(r.seed),
                          cell((r.source.replace(",", "+"), "dev")), *(cell((t, "test")) for t in targets))
        tables.append(table)
    return Group(*tables)


def print_status(reader: Reader, console: Console, *, study: str | None, all_runs: bool, failed: bool) -> None:
    """`xltui status`: every table from one snapshot of the database."""
    study_id = None
    if study is not None:
        study_id = study_id_of(reader, study)
        if study_id is None:
            from xltui.errors import UserError

            raise UserError(f"--study: no study named {study!r}")
    console.print(studies_table(reader, study))
    if all_runs:
        console.print(runs_table(reader, "Runs", run_rows(reader, study_id=study_id)))
    else:
        active = run_rows(reader, study_id=study_id, statuses=(RunStatus.RUNNING,))
        if active:
            console.print(runs_table(reader, "Running", active))
        waits = waiting_runs(reader, study_id)
        if waits:
            table = Table(title="Waiting", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
            for col in ("run", "model", "seed", "waits on"):
                table.add_column(col, no_wrap=col != "waits on")
            for w in waits:
                deps = ", ".join(f"run {d} {name} ({status})" for d, name, status in w.needs)
                table.add_row(str(w.run_id), f"{w.model_name} ({w.method})", str(w.seed), deps)
            console.print(table)
        failures = run_rows(reader, study_id=study_id, statuses=(RunStatus.FAILED,))
        if failures and failed:
            for r in failures:
                console.print(f"[red]run {r.id}[/] ({r.model_name}, seed {r.seed}) failed:")
                console.print(r.error or "(no error text)", soft_wrap=True, markup=False, highlight=False)
                console.print()
        elif failures:
            console.print(runs_table(reader, "Failed (details: --failed)", failures))
    workers = live_workers(reader)
    if workers:
        table = Table(title="Workers", title_justify="left")
        for col in ("worker", "host", "job", "device", "state", "run", "heartbeat"):
            table.add_column(col)
        now = server_now(reader)
        for w in workers:
            table.add_row(w.id, w.host, job_label(w.job_id, w.job_index), w.device, w.state,
                          str(w.current_run_id or ""), f"{now - w.heartbeat_at:.0f}s ago")
        console.print(table)
    else:
        console.print("no live workers — start one with `xltui worker --cpu` or `--gpus 0,1`")
