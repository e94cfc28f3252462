"""`xltui slurm submit|status|cancel`: workers as a Slurm job array, through submitit.

The jobs and their workers are read from the database (every worker records its job
id); Slurm is asked only for each job's state, with ``squeue``, which answers on
clusters without accounting (where submitit's ``sacct``-based states do not).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from engine.settings import CHECKPOINT_EVERY_ENV, DB_ENV, DEFAULT_CHECKPOINT_EVERY, DEFAULT_LEASE_S
from xltui.errors import UserError, handle_errors

slurm_app = typer.Typer(no_args_is_help=True, help="Workers on a Slurm cluster (a job array, through submitit).")
console = Console(soft_wrap=True)  # messages hold paths: one line each, greppable when piped
err = Console(stderr=True, soft_wrap=True)

DbOpt = Annotated[Optional[str], typer.Option(
    "--db", envvar=DB_ENV, help="database path or SQLAlchemy URL every job can reach (PostgreSQL for many nodes)")]
# the same option as `xltui worker --checkpoint-every` (xltui.cli imports it from here: this module loads first)
CheckpointEveryOpt = Annotated[Optional[str], typer.Option(
    "--checkpoint-every", metavar="STEPS|DURATION", help="how often each run saves its training state, to resume "
    "from it after a preemption, a time limit or a crash: optimizer steps (500) or wall time (90s, 15m, 1h); 0: "
    f"only when asked to stop (default: ${CHECKPOINT_EVERY_ENV}, else {DEFAULT_CHECKPOINT_EVERY})")]
# engine.runner.slurm's defaults, repeated so that --help imports no engine module; a test holds them equal
MAX_REQUEUES = 100
SIGNAL_DELAY_S = 120


@slurm_app.command("submit")
@handle_errors
def submit(
    workers: Annotated[int, typer.Option("--workers", "-n", min=1, help="array tasks, one worker each")],
    db: DbOpt = None,
    partition: Annotated[Optional[str], typer.Option("--partition", "-p", help="Slurm partition")] = None,
    gpus_per_worker: Annotated[int, typer.Option("--gpus-per-worker", min=0,
                                                 help="GPUs per worker, one run each unless --runs-per-gpu (0: CPU workers)")] = 1,
    time_limit: Annotated[str, typer.Option("--time", "-t", help="time limit per job, Slurm format "
                                            "(12:00:00, 1-00:00); runs are re-queued before it ends")] = "12:00:00",
    account: Annotated[Optional[str], typer.Option("--account", "-A")] = None,
    qos: Annotated[Optional[str], typer.Option("--qos", "-q")] = None,
    cpus_per_worker: Annotated[Optional[int], typer.Option("--cpus-per-worker", min=1)] = None,
    mem: Annotated[Optional[str], typer.Option("--mem", help="memory per worker, e.g. 32G")] = None,
    slurm_opt: Annotated[Optional[list[str]], typer.Option(
        "--slurm-opt", help="any sbatch option as KEY=VALUE (repeatable), e.g. constraint=a100")] = None,
    study: Annotated[Optional[str], typer.Option("--study", help="take runs of this study only")] = None,
    lease: Annotated[float, typer.Option("--lease", min=1.0, help="lease seconds of each run")] = DEFAULT_LEASE_S,
    poll: Annotated[float, typer.Option("--poll", min=0.05, help="seconds between queue polls when idle")] = 5.0,
    runs_per_gpu: Annotated[Optional[str], typer.Option(
        "--runs-per-gpu", metavar="N|auto", help="runs side by side on each worker's GPUs (default 1; auto: by "
        "free memory and measured throughput)")] = None,
    cluster: Annotated[str, typer.Option("--cluster", help="slurm, or local: submitit's local executor, the same "
                                         "workers on this machine (to try a set-up without Slurm)")] = "slurm",
    checkpoint_every: CheckpointEveryOpt = None,
    max_requeues: Annotated[int, typer.Option(
        "--max-requeues", min=0, help="times a job that reaches its time limit is requeued (submitit's "
        "max_num_timeout; preemptions do not count): runs resume from their saved state, and the database "
        "says when the work is done")] = MAX_REQUEUES,
    signal_delay: Annotated[int, typer.Option(
        "--signal-delay", min=1, metavar="SECONDS", help="Slurm's warning (USR2) this long before the time "
        "limit: the time each run has to save its training state and go back to the queue before the job "
        "is killed")] = SIGNAL_DELAY_S,
) -> None:
    """Submit WORKERS workers as one job array; each exits when the queue is empty."""
    import time

    from engine.runner.slurm import SlurmRequest, parse_options
    from engine.runner.slurm import submit as submit_jobs
    from engine.runner.worker import sqlite_guard
    from engine.settings import artifacts_root
    from engine.store.db import db_url, open_db, safe_url, sqlite_path
    from engine.store.queries import study_by_name

    url = db_url(db)
    request = SlurmRequest(workers=workers, partition=partition, gpus_per_worker=gpus_per_worker,
                           time=time_limit, account=account, qos=qos, cpus_per_worker=cpus_per_worker, mem=mem,
                           options=parse_options(slurm_opt or []), study=study, lease_s=lease, poll_s=poll,
                           cluster=cluster, runs_per_gpu=runs_per_gpu, checkpoint_every=checkpoint_every,
                           max_requeues=max_requeues, signal_delay_s=signal_delay)
    request.check()  # a bad --time or --checkpoint-every, no sbatch: fails here, before the database is opened
    engine = open_db(db)
    if study is not None and study_by_name(engine, study) is None:
        raise UserError(f"--study: no study named {study!r} in {safe_url(url)}")
    for warning in sqlite_guard(engine, url):
        err.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    if sqlite_path(url) is not None and cluster == "slurm":
        err.print("[yellow]warning:[/] a SQLite database serves workers of one node only; jobs on other nodes "
                  "are refused by it — use PostgreSQL (--db postgresql+psycopg://…) for a cluster", soft_wrap=True)
    folder = artifacts_root(url) / "slurm" / time.strftime("%Y%m%d-%H%M%S")
    jobs = submit_jobs(engine, url, request, folder)
    console.print(f"submitted {len(jobs)} worker(s) as {cluster} job {jobs[0].array_id}: "
                  f"{', '.join(j.job_id for j in jobs)}\nlogs: {folder}\n"
                  "watch with `xltui slurm status`, stop with `xltui slurm cancel`")


@slurm_app.command("status")
@handle_errors
def status(
    db: DbOpt = None,
    all_jobs: Annotated[bool, typer.Option("--all", help="also jobs cancelled with `xltui slurm cancel`")] = False,
) -> None:
    """The jobs xltui submitted: Slurm's state, their workers (host, state, run) and the runs they finished."""
    from engine.runner.slurm import job_states
    from engine.store.cluster_jobs import job_views
    from engine.store.db import open_db

    views = job_views(open_db(db, create=False), include_cancelled=all_jobs)
    if not views:
        console.print("no jobs submitted with `xltui slurm submit` in this database")
        return
    states: dict[str, str] = {}
    for cluster in {v.job.cluster for v in views}:
        states.update(job_states([v.job.job_id for v in views if v.job.cluster == cluster], cluster))
    table = Table(title="Worker jobs", title_justify="left")
    for col in ("job", "task", "state", "partition", "workers (host: state, run)", "runs done", "re-queued"):
        table.add_column(col)
    for v in views:
        state = "CANCELLED" if v.job.cancelled_at is not None and states[v.job.job_id] == "ENDED" else states[v.job.job_id]
        live = "; ".join(f"{w.host}: {w.state}{f', run {w.current_run_id}' if w.current_run_id else ''}"
                         for w in v.workers[-1:]) or "not started"
        starts = f" ({len(v.workers)} starts)" if len(v.workers) > 1 else ""
        table.add_row(v.job.job_id, str(v.job.job_index), state, v.job.partition or "", live + starts,
                      str(v.runs_succeeded), str(v.runs_requeued))
    console.print(table)


@slurm_app.command("cancel")
@handle_errors
def cancel(
    job_ids: Annotated[Optional[list[str]], typer.Argument(help="job ids (default: every job xltui submitted)")] = None,
    db: DbOpt = None,
) -> None:
    """Cancel worker jobs; their running runs go back to the queue at once."""
    from engine.runner.slurm import cancel as cancel_jobs
    from engine.store.cluster_jobs import job_views, mark_cancelled
    from engine.store.db import open_db

    engine = open_db(db, create=False)
    views = {v.job.job_id: v.job for v in job_views(engine)}
    chosen = list(job_ids or views)
    unknown = [j for j in chosen if j not in views and not any(k.split("_")[0] == j for k in views)]
    if unknown:
        raise UserError(f"not a job xltui submitted (or already cancelled): {', '.join(unknown)}; "
                        "see `xltui slurm status`")
    pairs = [(k, job.cluster) for k, job in views.items() if k in chosen or k.split("_")[0] in chosen]
    if not pairs:
        console.print("no jobs to cancel")
        return
    cancel_jobs(pairs)
    mark_cancelled(engine, [k for k, _ in pairs])
    console.print(f"cancelled {len(pairs)} job(s): {', '.join(k for k, _ in pairs)}; their runs go back to the queue")
