"""What the app shows, read from the database (no Textual here): ``SnapshotReader.read``.

The app polls about once a second, so a read must stay cheap on 10,000 runs and a
million metric points. ``PRAGMA data_version`` skips the read when nobody wrote; a
fingerprint of the runs table (one aggregate, computed in SQLite's C) skips reading
10,000 run rows when only metrics were written; unchanged runs keep their
``RunRow`` objects (screens diff by identity); final scores are read once per attempt;
metric points only for the opened run, incrementally (``DetailReader``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

from engine.states import RunStatus
from engine.store.live_reads import latest_points, mean_test_scores
from engine.store.queue_reads import (
    LiveWorker,
    Resume,
    RunProgress,
    StudySummary,
    estimate_eta,
    latest_resumes,
    live_workers,
)
from engine.store.reader import Reader, reader_of, server_now
from xltui.tui.detail_reader import SERIES, DetailReader
from xltui.tui.devices import DeviceReader, DeviceState, GpuProbe, nvml_gpus
from xltui.tui.snapshot_types import (
    CHART_POINTS,
    MAIN_METRIC,
    RunDetail,
    RunRow,
    Snapshot,
    downsample,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["CHART_POINTS", "MAIN_METRIC", "SERIES", "DeviceState", "GpuProbe", "RunDetail", "RunRow", "Snapshot",
           "SnapshotReader", "StudySummary", "LiveWorker", "downsample", "nvml_gpus"]

RUN_COLUMNS = ("id, study_id, status, model_name, method, task, setting, source, targets, seed, device, priority, "
               "attempts, started_at, finished_at, attempt_id, substr(error, 1, 160)")
STATUS_CODE = "CASE status " + " ".join(f"WHEN '{st}' THEN {i}" for i, st in enumerate(RunStatus, start=1)) + " ELSE 0 END"
# one aggregate over the runs table, computed in the database: changes when any listed column of any run does.
# COALESCE(SUM(..), 0): 0 rather than NULL on no rows / all NULL, on any backend
FINGERPRINT = ("SELECT count(*), max(id), " + ", ".join(f"coalesce(sum({c}), 0)" for c in (
    f"id * {STATUS_CODE}", "id * priority", "started_at", "finished_at", "attempts", "attempt_id"))
    + ", count(device), coalesce(sum(id * study_id), 0), count(error) FROM run")
FULL_READ_EVERY = 30  # polls: a full read now and then, in case two changes cancelled out in the fingerprint
PROGRESS = ("train_loss", "mlm_loss", "total_steps", "dev_score")


class SnapshotReader:
    """Reads snapshots on one held connection (from one thread); keeps what did not change."""

    def __init__(self, source: Engine | Callable[[], Reader], *, clock: Callable[[], float] | None = None,
                 gpu_probe: GpuProbe | None = None):
        """``source``: an opened database, or what opens a reader on it (the app passes one that
        needs no SQLAlchemy for a SQLite file)."""
        self.connect: Callable[[], Reader] = source if callable(source) else lambda: reader_of(source)
        self.clock, self.gpu_probe = clock, gpu_probe
        self.details = DetailReader()
        self.devices = DeviceReader(gpu_probe)
        self._conn: Reader | None = None
        self._data_version: int | None = None
        self._fingerprint: tuple | None = None
        self._since_full = 0
        self._base: dict[int, tuple] = {}  # run id -> its raw columns
        self._keys: dict[int, tuple] = {}  # run id -> raw columns + live/final extras
        self._rows: dict[int, RunRow] = {}
        self._run_list: list[RunRow] = []
        self._final: dict[int, float | None] = {}  # attempt id -> mean target test score
        self._resumes: dict[int, Resume] = {}  # run id -> how its latest attempt resumed (those that did)
        self._studies: dict[int, str] = {}
        self._stats: tuple[int, dict, dict] | None = None  # version, counts, mean durations (per study)
        self._version = 0
        self._last: Snapshot | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def read(self, detail_run_id: int | None = None) -> Snapshot:
        started = time.perf_counter()
        if self._conn is None:
            self._conn = self.connect()
        conn = self._conn
        try:
            now = self.clock() if self.clock is not None else server_now(conn)  # the clock the stored times use
            if not self._unchanged(conn) or self._last is None:
                self._read_runs(conn)
            running = [r for r in self._run_list if r.status == RunStatus.RUNNING]
            detail_row = self._rows.get(detail_run_id) if detail_run_id is not None else None
            snap = Snapshot(now, self._summaries(running, now), self._run_list, self._workers(conn, now),
                            self.devices.read(conn, running),
                            self.details.read(conn, detail_row) if detail_row else None, self._version,
                            by_id=self._rows, gpu_error=self.devices.gpu_error)
        except Exception:
            self.close()  # a fresh connection next time
            raise
        finally:
            if self._conn is not None:
                self._conn.end()  # end the read transaction: never pin an old WAL snapshot
        self._last = snap
        snap.read_s = time.perf_counter() - started
        return snap

    def _unchanged(self, conn: Reader) -> bool:
        """Nobody committed since the last read (SQLite only; elsewhere always read)."""
        if conn.dialect != "sqlite":
            return False
        version = conn.rows("PRAGMA data_version")[0][0]
        same = version == self._data_version
        self._data_version = version
        return same

    # -- runs ---------------------------------------------------------------------------------------
    def _read_runs(self, conn: Reader) -> None:
        if len(self._studies) != conn.rows("SELECT count(*) FROM study")[0][0]:
            self._studies = dict(conn.rows("SELECT id, name FROM study"))
        fingerprint = conn.rows(FINGERPRINT)[0]
        self._since_full += 1
        full = fingerprint != self._fingerprint or self._since_full >= FULL_READ_EVERY
        if full:
            self._fingerprint, self._since_full = fingerprint, 0
            self._base = {r[0]: r for r in conn.rows(f"SELECT {RUN_COLUMNS} FROM run")}
            todo = self._base.keys()
        else:  # only metrics were written: only running runs can have changed
            todo = [r.id for r in self._run_list if r.status == RunStatus.RUNNING]
        base = self._base
        live = [base[i][15] for i in todo if base[i][2] == RunStatus.RUNNING and base[i][15] is not None]
        progress = latest_points(conn, live, PROGRESS)
        self._read_resumes(conn, todo, None if full else live)
        done = [base[i][15] for i in todo if base[i][2] == RunStatus.SUCCEEDED and base[i][15] is not None
                and base[i][15] not in self._final]
        if done:
            scores = mean_test_scores(conn, MAIN_METRIC, None if not self._final else done)
            self._final.update({a: scores.get(a) for a in done})
        changed = False
        for run_id in todo:
            r = base[run_id]
            extra = self._live(r, progress) if r[2] == RunStatus.RUNNING else (None, None, None, self._final.get(r[15]))
            extra += (self._resumes.get(run_id),)
            key = r + extra
            if self._keys.get(run_id) == key:
                continue
            changed = True
            self._keys[run_id] = key
            self._rows[run_id] = RunRow(r[0], r[1], self._studies.get(r[1], "?"), r[2], r[3], r[4], r[5], r[6],
                                        r[7], r[8], r[9], r[10] or "", r[11], r[12], r[13], r[14], r[15],
                                        (r[16] or "").strip().split("\n", 1)[0], *extra)
        if full:
            for gone in set(self._rows) - set(base):
                del self._rows[gone], self._keys[gone]
                changed = True
        if changed:
            self._version += 1
            self._run_list = [self._rows[i] for i in sorted(self._rows)]
            if full:
                self._stats = None  # statuses or durations may have changed: recount

    def _read_resumes(self, conn: Reader, todo, attempt_ids: list[int] | None) -> None:
        """Every run's on a full read (one query); else the running ones', whose attempt may have
        just loaded its saved state (the runs table does not change when it does)."""
        found = latest_resumes(conn, attempt_ids)
        if attempt_ids is None:
            self._resumes = found
            return
        for run_id in todo:
            if run_id in found:
                self._resumes[run_id] = found[run_id]
            else:
                self._resumes.pop(run_id, None)

    @staticmethod
    def _live(r: tuple, progress: dict) -> tuple:
        attempt = r[15]
        loss = progress.get((attempt, "train_loss")) or progress.get((attempt, "mlm_loss"))
        total = progress.get((attempt, "total_steps"))
        dev = progress.get((attempt, "dev_score"))
        return (loss[0] if loss else None, int(total[1]) if total else None, loss[1] if loss else None,
                dev[1] if dev else None)

    # -- studies ------------------------------------------------------------------------------------
    def _summaries(self, running: list[RunRow], now: float) -> list[StudySummary]:
        """Counts and mean durations per study (recounted only when runs changed), ETA every time."""
        if self._stats is None:
            counts: dict[int, dict[str, int]] = {sid: {} for sid in self._studies}
            durations: dict[int, list[float]] = {}
            for r in self._run_list:
                c = counts.setdefault(r.study_id, {})
                c[r.status] = c.get(r.status, 0) + 1
                if r.status == RunStatus.SUCCEEDED and r.started_at is not None and r.finished_at is not None:
                    durations.setdefault(r.study_id, []).append(r.finished_at - r.started_at)
            means = {sid: sum(d) / len(d) for sid, d in durations.items()}
            self._stats = (self._version, counts, means)
        _, counts, means = self._stats
        progress = {r.id: RunProgress(r.id, r.step, r.total_steps, r.loss, r.score) for r in running}
        out = []
        for sid in sorted(counts):
            summary = StudySummary(sid, self._studies.get(sid, "?"), {s: counts[sid].get(s, 0) for s in RunStatus},
                                   means.get(sid))
            mine = [r for r in running if r.study_id == sid]
            summary.eta_s = estimate_eta(summary, mine, progress, now)  # type: ignore[arg-type]
            out.append(summary)
        return out

    def _workers(self, conn: Reader, now: float) -> list[LiveWorker]:
        return live_workers(conn, now)

