"""Light reads for live displays (the TUI's poll), as plain SQL on a ``Reader``.

Indexed and incremental: the newest point of a metric is one probe of
``(attempt_id, name, step)`` however long the run, a series or the samples are read
from where the last poll stopped, final scores once per attempt. Plain SQL so the app's
poll on a SQLite file needs neither SQLAlchemy nor pydantic (engine.store.reader).

A resumed run's curve is one story over its attempts (``merge_attempt_series``): the
points an interrupted attempt logged after the state the next one resumed from were
redone, so they are left out rather than drawn twice.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import chain
from operator import itemgetter
from typing import NamedTuple

from engine.states import RunStatus
from engine.store.reader import Reader, placeholders, rows_in

_LATEST = ("SELECT step, value FROM metricpoint WHERE attempt_id = :a AND name = :n "
           "ORDER BY step DESC LIMIT 1")
_SERIES = ("SELECT step, value FROM metricpoint WHERE attempt_id = :a AND name = :n AND step > :after "
           "ORDER BY step")
_ATTEMPTS = ("SELECT id, number, resumed_step, redone_steps FROM attempt WHERE run_id = :r "
             "ORDER BY number")
_SAMPLE_COLUMNS = "t, rss_bytes, gpu_allocated_bytes, gpu_reserved_bytes, gpu_peak_bytes, gpu_util_percent"


def latest_points(reader: Reader, attempt_ids: list[int], names: tuple[str, ...]) -> dict[tuple[int, str], tuple[int, float]]:
    """(attempt, name) -> (step, value) of the newest point: one index probe per pair, however long the run."""
    out: dict[tuple[int, str], tuple[int, float]] = {}
    for attempt_id in attempt_ids:
        for name in names:
            row = reader.rows(_LATEST, {"a": attempt_id, "n": name})
            if row:
                out[(attempt_id, name)] = (row[0][0], row[0][1])
    return out


def metric_series(reader: Reader, attempt_id: int, name: str, after_step: int = -1) -> list[tuple[int, float]]:
    """(step, value) of one metric of one attempt after ``after_step``, in step order (index range scan)."""
    return [(s, v) for s, v in reader.rows(_SERIES, {"a": attempt_id, "n": name, "after": after_step})]


Points = list[tuple[int, float]]


class StoryAttempt(NamedTuple):
    """An attempt as the run's story needs it: where it resumed (None: from step 0) and the steps it redid."""

    id: int
    number: int
    resumed_step: int | None
    redone_steps: int | None


def run_attempts(reader: Reader, run_id: int) -> list[StoryAttempt]:
    """A run's attempts in order (one probe of the attempt index)."""
    return [StoryAttempt(*r) for r in reader.rows(_ATTEMPTS, {"r": run_id})]


def story_start(resumed: Sequence[int | None]) -> int:
    """Index of the latest attempt that started from step 0 (``resumed_step`` 0): attempts before it are
    an abandoned story. An attempt with None never reached its loop (it died loading) and is passed
    over, unless no attempt says 0 (a database from before attempts recorded it: the latest None)."""
    fresh = [i for i, step in enumerate(resumed) if step == 0]
    return fresh[-1] if fresh else max((i for i, step in enumerate(resumed) if step is None), default=0)


def merge_attempt_series(resumed: Sequence[int | None], series: Sequence[Points]) -> Points:
    """One curve from per-attempt series (each in step order), given each attempt's ``resumed_step``.

    From the latest attempt that started at step 0 onwards, an attempt keeps only its points at or
    before the lowest step a later attempt resumed at (the rest were redone); at equal steps the
    later attempt's point wins, so every step appears once.
    """
    if len(resumed) != len(series):
        raise ValueError(f"{len(resumed)} resumed steps for {len(series)} series")
    kept: list[Points] = []  # latest attempt first
    cut: int | None = None
    for i in range(len(series) - 1, story_start(resumed) - 1, -1):
        points = series[i]
        kept.append(points if cut is None else points[:bisect_right(points, cut, key=itemgetter(0))])
        if resumed[i] is not None:
            cut = resumed[i] if cut is None else min(cut, resumed[i])
    if len(kept) == 1:
        return list(kept[0])
    ordered = sorted(chain.from_iterable(kept), key=itemgetter(0))  # stable: the later attempt first at a tie
    return [p for k, p in enumerate(ordered) if k == 0 or p[0] != ordered[k - 1][0]]


def run_series(reader: Reader, run_id: int, name: str) -> Points:
    """A run's whole curve of one metric across its attempts (a one-off read: exports, the CLI)."""
    attempts = run_attempts(reader, run_id)
    start = story_start([a.resumed_step for a in attempts])
    story = attempts[start:]
    return merge_attempt_series([a.resumed_step for a in story], [metric_series(reader, a.id, name) for a in story])


def system_samples(reader: Reader, attempt_id: int, after_t: float = float("-inf"),
                   limit: int | None = None) -> list[tuple]:
    """An attempt's samples after ``after_t`` in time order, as plain tuples (t, rss, allocated,
    reserved, peak, util); with ``limit`` only the newest ones."""
    sql = f"SELECT {_SAMPLE_COLUMNS} FROM systemsample WHERE attempt_id = :a AND t > :after"
    params = {"a": attempt_id, "after": after_t if after_t != float("-inf") else -1e300}
    if limit is None:
        return reader.rows(sql + " ORDER BY t", params)
    return list(reversed(reader.rows(sql + " ORDER BY t DESC LIMIT :limit", {**params, "limit": limit})))


def attempt_results(reader: Reader, attempt_ids: list[int], *, split: str | None = None,
                    metrics: tuple[str, ...] | None = None) -> list[tuple[int, str, str, str, float]]:
    """(attempt, language, split, metric, value) rows of some attempts, in chunks the driver accepts."""
    sql, params = "SELECT attempt_id, language, split, metric, value FROM result WHERE attempt_id IN ({in})", {}
    if split is not None:
        sql += " AND split = :split"
        params["split"] = split
    if metrics is not None:
        marks, bound = placeholders("m", metrics)
        sql += f" AND metric IN ({marks})"
        params.update(bound)
    return rows_in(reader, sql + " ORDER BY id", attempt_ids, params, name="a")


def mean_test_scores(reader: Reader, main_metric: dict[str, str],
                     attempt_ids: list[int] | None = None) -> dict[int, float]:
    """attempt -> mean over its test languages (a run's targets) of its task's main metric.

    ``attempt_ids=None``: every succeeded run's latest attempt, in one grouped query.
    """
    tasks = sorted(main_metric)
    by_task = " OR ".join(f"(r.task = :task_{i} AND x.metric = :metric_{i})" for i in range(len(tasks)))
    params: dict[str, object] = {f"task_{i}": t for i, t in enumerate(tasks)}
    params.update({f"metric_{i}": main_metric[t] for i, t in enumerate(tasks)})
    sql = ("SELECT x.attempt_id, avg(x.value) FROM result x JOIN run r ON r.attempt_id = x.attempt_id "
           f"WHERE x.split = 'test' AND ({by_task})")
    if attempt_ids is None:
        return dict(reader.rows(sql + " AND r.status = :ok GROUP BY x.attempt_id",
                                {**params, "ok": str(RunStatus.SUCCEEDED)}))
    return dict(rows_in(reader, sql + " AND x.attempt_id IN ({in}) GROUP BY x.attempt_id", attempt_ids, params, "a"))
