"""The opened run's detail: metric series and samples read incrementally, the log tail by size.

Only the run on screen is read, and only what was added since the last poll (index
range scans on ``(attempt_id, name, step)`` and ``(attempt_id, t)``), so a run with
hundreds of thousands of points costs one long read when opened and then almost
nothing per poll. A resumed run's curves are one story over its attempts
(``engine.store.live_reads.merge_attempt_series``), merged again only when the story
changes, else extended. Charts get a downsampled copy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from engine.states import RunStatus
from engine.store.live_reads import (
    Points,
    StoryAttempt,
    attempt_results,
    merge_attempt_series,
    metric_series,
    story_start,
    system_samples,
)
from engine.store.queue_reads import Resume
from engine.store.reader import Reader
from xltui.tui.snapshot_types import CHART_POINTS, RunDetail, RunRow, downsample

SERIES = ("train_loss", "mlm_loss", "lr", "dev_score", "examples_per_s", "epoch", "total_steps")
LOG_LINES = 60
LOG_BYTES = 16_384
ATTEMPTS = ("SELECT number, device, outcome, started_at, finished_at, log_path, id, resumed_step, redone_steps "
            "FROM attempt WHERE run_id = :id ORDER BY number")


@dataclass
class Curve:
    """One metric of one run over its story; ``story`` (attempt ids and resumed steps) says what it was merged from."""

    story: tuple
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    chart: tuple[int, tuple[list[float], list[float]]] = (-1, ([], []))  # len(xs) it was downsampled at, the copy


class DetailReader:
    """Caches per attempt; ``read`` returns the detail of one run."""

    def __init__(self) -> None:
        self._points: dict[tuple[int, str], Points] = {}  # (attempt, name) -> its points so far
        self._curves: dict[tuple[int, str], Curve] = {}  # (run, name) -> the merged curve
        self._samples: dict[int, list[tuple]] = {}
        self._results: dict[int, list[tuple[str, str, str, float]]] = {}
        self._log: dict[str, tuple[tuple[int, float], list[str]]] = {}

    def read(self, conn: Reader, row: RunRow) -> RunDetail | None:
        found = conn.rows("SELECT spec_json, error FROM run WHERE id = :id", {"id": row.id})
        if not found:
            return None
        run = found[0]
        rows = conn.rows(ATTEMPTS, {"id": row.id})
        attempts = [a[:6] for a in rows]
        story = [StoryAttempt(a[6], a[0], a[7], a[8]) for a in rows]
        story = story[story_start([a.resumed_step for a in story]):]
        aid = row.attempt_id
        series: dict[str, tuple[list[float], list[float]]] = {}
        samples: list[tuple] = []
        results: list[tuple[str, str, str, float]] = []
        if aid is not None:
            for name in SERIES:
                chart = self._series_of(conn, row.id, story, name)
                if chart[0]:
                    series[name] = chart
            cache = self._samples.setdefault(aid, [])
            cache.extend(system_samples(conn, aid, cache[-1][0] if cache else float("-inf")))
            samples = cache[-CHART_POINTS:]
            results = self._results_of(conn, aid, row.status)
        log_path = attempts[-1][5] if attempts else None
        tail = self._tail(log_path)
        resumes = resumes_of(story, series.get("total_steps"))
        counts = tuple(len(self._curves[(row.id, n)].xs) for n in SERIES) if aid else ()
        version = (row, counts, len(samples), samples[-1][0] if samples else None, len(results), tuple(tail[-3:]),
                   len(attempts), tuple(resumes))
        return RunDetail(row, run[0], run[1], attempts, log_path, tail, series, samples, results, version, resumes)

    def _series_of(self, conn: Reader, run_id: int, story: list[StoryAttempt],
                   name: str) -> tuple[list[float], list[float]]:
        """The run's curve of ``name``, downsampled: each attempt's new points read after its last step seen."""
        grown: list[int] = []  # indexes in ``story`` of the attempts that logged new points
        new: Points = []
        for i, a in enumerate(story):
            points = self._points.setdefault((a.id, name), [])
            new = metric_series(conn, a.id, name, points[-1][0] if points else -1)
            if new:
                points.extend(new)
                grown.append(i)
        key = tuple((a.id, a.resumed_step) for a in story)
        curve = self._curves.get((run_id, name))
        if curve is not None and curve.story == key and grown == [len(story) - 1] and (
                not curve.xs or new[0][0] > curve.xs[-1]):
            curve.xs.extend(s for s, _ in new)  # the usual poll: the latest attempt went on (it has no cut)
            curve.ys.extend(v for _, v in new)
        elif curve is None or curve.story != key or grown:
            merged = merge_attempt_series([a.resumed_step for a in story], [self._points[(a.id, name)] for a in story])
            curve = Curve(key, [s for s, _ in merged], [v for _, v in merged])
            self._curves[(run_id, name)] = curve
        if curve.chart[0] != len(curve.xs):  # downsample only when points were added
            curve.chart = (len(curve.xs), downsample(curve.xs, curve.ys))
        return curve.chart[1]

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


def resumes_of(story: list[StoryAttempt], total_steps: tuple[list[float], list[float]] | None) -> list[Resume]:
    """The resumes of a run's story, each with the run's total steps (its latest ``total_steps`` point)."""
    total = int(total_steps[1][-1]) if total_steps and total_steps[1] else None
    return [Resume(a.number, a.resumed_step, a.redone_steps, total) for a in story if a.resumed_step]
