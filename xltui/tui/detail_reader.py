"""The opened run's detail: metric series and samples read incrementally, the log tail by size.

Only the run on screen is read, and only what was added since the last poll (index
range scans on ``(attempt_id, name, step)`` and ``(attempt_id, t)``), so a run with
hundreds of thousands of points costs one long read when opened and then almost
nothing per poll. Charts get a downsampled copy.
"""

from __future__ import annotations

import os

from engine.states import RunStatus
from engine.store.live_reads import attempt_results, metric_series, system_samples
from engine.store.reader import Reader
from xltui.tui.snapshot_types import CHART_POINTS, RunDetail, RunRow, downsample

SERIES = ("train_loss", "mlm_loss", "lr", "dev_score", "examples_per_s", "epoch", "total_steps")
LOG_LINES = 60
LOG_BYTES = 16_384


class DetailReader:
    """Caches per attempt; ``read`` returns the detail of one run."""

    def __init__(self) -> None:
        self._series: dict[tuple[int, str], tuple[list[float], list[float]]] = {}
        self._charts: dict[tuple[int, str], tuple[int, tuple[list[float], list[float]]]] = {}
        self._samples: dict[int, list[tuple]] = {}
        self._results: dict[int, list[tuple[str, str, str, float]]] = {}
        self._log: dict[str, tuple[tuple[int, float], list[str]]] = {}

    def read(self, conn: Reader, row: RunRow) -> RunDetail | None:
        found = conn.rows("SELECT spec_json, error FROM run WHERE id = :id", {"id": row.id})
        if not found:
            return None
        run = found[0]
        attempts = conn.rows("SELECT number, device, outcome, started_at, finished_at, log_path FROM attempt "
                             "WHERE run_id = :id ORDER BY number", {"id": row.id})
        aid = row.attempt_id
        series: dict[str, tuple[list[float], list[float]]] = {}
        samples: list[tuple] = []
        results: list[tuple[str, str, str, float]] = []
        if aid is not None:
            for name in SERIES:
                chart = self._series_of(conn, aid, name)
                if chart[0]:
                    series[name] = chart
            cache = self._samples.setdefault(aid, [])
            cache.extend(system_samples(conn, aid, cache[-1][0] if cache else float("-inf")))
            samples = cache[-CHART_POINTS:]
            results = self._results_of(conn, aid, row.status)
        log_path = attempts[-1][5] if attempts else None
        tail = self._tail(log_path)
        counts = tuple(len(self._series.get((aid, n), ((), ()))[0]) for n in SERIES) if aid else ()
        version = (row, counts, len(samples), samples[-1][0] if samples else None, len(results), tuple(tail[-3:]),
                   len(attempts))
        return RunDetail(row, run[0], run[1], attempts, log_path, tail, series, samples, results, version)

    def _series_of(self, conn: Reader, aid: int, name: str) -> tuple[list[float], list[float]]:
        xs, ys = self._series.setdefault((aid, name), ([], []))
        for step, value in metric_series(conn, aid, name, int(xs[-1]) if xs else -1):
            xs.append(step)
            ys.append(value)
        cached = self._charts.get((aid, name))
        if cached is None or cached[0] != len(xs):  # downsample only when points were added
            cached = (len(xs), downsample(xs, ys))
            self._charts[(aid, name)] = cached
        return cached[1]

    def _results_of(self, conn: Reader, aid: int, status: str) -> list[tuple[str, str, str, float]]:
        if aid in self._results:
            return self._results[aid]
        results = [r[1:] for r in attempt_results(conn, [aid])]
        if status == RunStatus.SUCCEEDED:  # final: never read again
            self._results[aid] = results
        return results

    def _tail(self, path: str | None) -> list[str]:
        """The last lines of a run's log, re-read only when the file changed."""
        if not path:
            return []
        try:
            st = os.stat(path)
        except OSError:
            return [f"(no log at {path} yet)"]
        key = (st.st_size, st.st_mtime)
        cached = self._log.get(path)
        if cached and cached[0] == key:
            return cached[1]
        with open(path, "rb") as fh:
            fh.seek(max(0, st.st_size - LOG_BYTES))
            lines = fh.read().decode("utf-8", "replace").splitlines()[-LOG_LINES:]
        self._log[path] = (key, lines)
        return lines
