"""The queue as `xltui status` and the progress displays show it, read as plain SQL.

Studies with their runs per status and an ETA, runs in a state, the latest step of
running runs, runs waiting on a dependency, live workers: each a query or two on a
``Reader`` (``engine.store.reader``), so `xltui status` on a SQLite file imports
neither SQLAlchemy nor pydantic. ``engine.store.queries`` offers the same functions
on an Engine (they wrap these), so the CLI and the TUI show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from engine.states import RunStatus, WorkerState
from engine.store.reader import Reader, placeholders, rows_in, server_now

WORKER_STALE_S = 120.0  # a heartbeat older than this (server clock) is a worker that is gone
PROGRESS_METRICS = ("train_loss", "total_steps", "dev_score")


@dataclass
class RunProgress:
    run_id: int
    step: int | None = None
    total_steps: int | None = None
    loss: float | None = None
    dev_score: float | None = None

    @property
    def fraction(self) -> float | None:
        if self.step is None or not self.total_steps:
            return None
        return min(1.0, self.step / self.total_steps)


@dataclass
class StudySummary:
    id: int
    name: str
    counts: dict[str, int] = field(default_factory=dict)
    mean_run_s: float | None = None
    eta_s: float | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> int:
        return self.total - self.counts.get(RunStatus.QUEUED, 0) - self.counts.get(RunStatus.RUNNING, 0)


@dataclass
class Waiting:
    """A queued run that cannot start yet, and the runs it waits for: (id, name, status)."""

    run_id: int
    model_name: str
    method: str
    seed: int
    needs: list[tuple[int, str, str]] = field(default_factory=list)


class RunColumns(NamedTuple):
    """A run's own stored columns as `xltui status` lists them (not its spec, not its progress; the
    whole error). The app's run list has its own row, with live progress (xltui.tui.snapshot_types.RunRow)."""

    id: int
    study_id: int
    status: str
    model_name: str
    method: str
    task: str
    setting: str
    source: str
    targets: str
    seed: int
    device: str | None
    attempt_id: int | None
    started_at: float | None
    finished_at: float | None
    error: str | None


class LiveWorker(NamedTuple):
    """A worker slot with a fresh heartbeat, as `xltui status` and the app's Workers screen list it."""

    id: str
    host: str
    pid: int
    device: str
    started_at: float
    heartbeat_at: float
    current_run_id: int | None
    state: str
    job_id: str | None
    job_index: int | None


class Resume(NamedTuple):
    """How an attempt continued from a saved training state, with the run's total steps when known."""

    attempt: int  # its number
    step: int  # the optimizer step it resumed at
    redone: int | None  # steps earlier attempts had done past that state
    total_steps: int | None


# the run's total_steps: its newest attempt's that logged one (attempt index on run_id, then one metric probe each)
_TOTAL = ("(SELECT m.value FROM attempt b JOIN metricpoint m ON m.attempt_id = b.id AND m.name = 'total_steps' "
          "WHERE b.run_id = a.run_id ORDER BY b.number DESC, m.step DESC LIMIT 1)")
_RESUMES = f"SELECT a.run_id, a.number, a.resumed_step, a.redone_steps, {_TOTAL} FROM attempt a"


def latest_resumes(reader: Reader, attempt_ids: list[int] | None = None) -> dict[int, Resume]:
    """run id -> how its latest attempt resumed, for the runs whose latest attempt did.

    ``attempt_ids``: only these attempts (a poll's running ones); None: every run's latest attempt.
    """
    if attempt_ids is None:
        rows = reader.rows(_RESUMES + " JOIN run r ON r.attempt_id = a.id WHERE a.resumed_step > 0")
    else:
        rows = rows_in(reader, _RESUMES + " WHERE a.id IN ({in}) AND a.resumed_step > 0", attempt_ids,
                       name="a")
    return {run_id: Resume(number, step, redone, int(total) if total is not None else None)
            for run_id, number, step, redone, total in rows}


RUN_COLUMNS = ", ".join(RunColumns._fields)
WORKER_COLUMNS = ", ".join(LiveWorker._fields)


def run_rows(reader: Reader, *, study_id: int | None = None, statuses: tuple[str, ...] = ()) -> list[RunColumns]:
    """Runs by id, of one study and/or in the given states."""
    where, params = [], {}
    if study_id is not None:
        where.append("study_id = :study")
        params["study"] = study_id
    if statuses:
        marks, bound = placeholders("st", [str(s) for s in statuses])
        where.append(f"status IN ({marks})")
        params.update(bound)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return [RunColumns(*r) for r in reader.rows(f"SELECT {RUN_COLUMNS} FROM run{clause} ORDER BY id", params)]


def study_id_of(reader: Reader, name: str) -> int | None:
    row = reader.rows("SELECT id FROM study WHERE name = :name", {"name": name})
    return row[0][0] if row else None


def runs_by_hash(reader: Reader, study: str) -> dict[str, tuple[int, str]]:
    """Spec hash -> (run id, status) of every run of the study named ``study``: the runs that
    engine.store.queue.enqueue leaves alone (dedup is per study)."""
    return {h: (run_id, status) for h, run_id, status in reader.rows(
        "SELECT r.spec_hash, r.id, r.status FROM run r JOIN study s ON s.id = r.study_id WHERE s.name = :study",
        {"study": study})}


def progress_of(reader: Reader, runs: list) -> dict[int, RunProgress]:
    """Latest step, loss and dev score of each run's current attempt (one indexed query per chunk)."""
    attempt_to_run = {r.attempt_id: r.id for r in runs if r.attempt_id is not None}
    out = {r.id: RunProgress(r.id) for r in runs}
    marks, names = placeholders("n", PROGRESS_METRICS)
    sql = ("SELECT attempt_id, name, step, value FROM metricpoint WHERE id IN ("
           f"SELECT max(id) FROM metricpoint WHERE attempt_id IN ({{in}}) AND name IN ({marks}) "
           "GROUP BY attempt_id, name)")
    for attempt_id, name, step, value in rows_in(reader, sql, list(attempt_to_run), names, name="a"):
        prog = out[attempt_to_run[attempt_id]]
        if name == "train_loss":
            prog.step, prog.loss = step, value
        elif name == "total_steps":
            prog.total_steps = int(value)
        else:
            prog.dev_score = value
    return out


def study_summaries(reader: Reader, now: float | None = None) -> list[StudySummary]:
    """Per study: runs per status, mean duration of succeeded runs, and an ETA."""
    now = server_now(reader) if now is None else now  # durations are by the server's clock, as are the times stored
    studies = {i: StudySummary(i, name) for i, name in reader.rows("SELECT id, name FROM study ORDER BY id")}
    for study_id, status, n in reader.rows("SELECT study_id, status, count(*) FROM run GROUP BY study_id, status"):
        studies[study_id].counts[status] = n
    for study_id, mean in reader.rows(
            "SELECT study_id, avg(finished_at - started_at) FROM run WHERE status = :ok GROUP BY study_id",
            {"ok": str(RunStatus.SUCCEEDED)}):
        studies[study_id].mean_run_s = mean
    running = run_rows(reader, statuses=(RunStatus.RUNNING,))
    progress = progress_of(reader, running)
    for summary in studies.values():
        summary.eta_s = estimate_eta(summary, [r for r in running if r.study_id == summary.id], progress, now)
    return list(studies.values())


def estimate_eta(summary: StudySummary, running: list, progress: dict[int, RunProgress],
                 now: float) -> float | None:
    """Seconds until the study is done, from finished-run durations and running-run progress.

    Runs are assumed to proceed one at a time per active worker (as many as are
    running now, at least one).
    """
    queued = summary.counts.get(RunStatus.QUEUED, 0)
    if not queued and not running:
        return 0.0
    per_run = summary.mean_run_s
    remaining = 0.0
    for run in running:
        elapsed = now - (run.started_at or now)
        frac = progress[run.id].fraction
        if frac:
            remaining += elapsed * (1 - frac) / frac
            per_run = per_run or elapsed / frac
        elif per_run:
            remaining += max(per_run - elapsed, 0.0)
    if per_run is None:
        return None
    return (remaining + queued * per_run) / max(1, len(running))


def waiting_runs(reader: Reader, study_id: int | None = None) -> list[Waiting]:
    """Queued runs with an unfinished dependency, in one query over just those (a 10,000-run
    queue is not loaded to find the few that wait)."""
    sql = ("SELECT r.id, r.model_name, r.method, r.seed, n.id, n.model_name, n.status FROM run r "
           "JOIN rundependency d ON d.run_id = r.id JOIN run n ON n.id = d.needs_run_id "
           "WHERE r.status = :queued AND n.status != :ok")
    params = {"queued": str(RunStatus.QUEUED), "ok": str(RunStatus.SUCCEEDED)}
    if study_id is not None:
        sql += " AND r.study_id = :study"
        params["study"] = study_id
    out: dict[int, Waiting] = {}
    for run_id, model, method, seed, dep_id, dep_name, dep_status in reader.rows(sql + " ORDER BY r.id, n.id", params):
        out.setdefault(run_id, Waiting(run_id, model, method, seed)).needs.append((dep_id, dep_name, dep_status))
    return list(out.values())


def live_workers(reader: Reader, now: float | None = None) -> list[LiveWorker]:
    """Worker slots not stopped whose heartbeat (by the server's clock) is fresh."""
    now = server_now(reader) if now is None else now
    rows = reader.rows(f"SELECT {WORKER_COLUMNS} FROM worker WHERE state != :stopped ORDER BY id",
                       {"stopped": str(WorkerState.STOPPED)})
    return [w for w in map(LiveWorker._make, rows) if now - w.heartbeat_at < WORKER_STALE_S]
