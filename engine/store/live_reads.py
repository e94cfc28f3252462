"""Light reads for live displays (the TUI's poll), as plain SQL on a ``Reader``.

Indexed and incremental: the newest point of a metric is one probe of
``(attempt_id, name, step)`` however long the run, a series or the samples are read
from where the last poll stopped, final scores once per attempt. Plain SQL so the app's
poll on a SQLite file needs neither SQLAlchemy nor pydantic (engine.store.reader).
"""

from __future__ import annotations

from engine.states import RunStatus
from engine.store.reader import Reader, placeholders, rows_in

_LATEST = ("SELECT step, value FROM metricpoint WHERE attempt_id = :a AND name = :n "
           "ORDER BY step DESC LIMIT 1")
_SERIES = ("SELECT step, value FROM metricpoint WHERE attempt_id = :a AND name = :n AND step > :after "
           "ORDER BY step")
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
