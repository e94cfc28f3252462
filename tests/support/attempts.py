"""Helpers shared by tests (moved from tests/runner/test_admission.py)."""

from __future__ import annotations

from engine.store.schema import Attempt


def overlap(rows: list[Attempt]) -> int:
    """The most attempts that ran at the same moment."""
    events = sorted([(a.started_at, 1) for a in rows] + [(a.finished_at, -1) for a in rows])
    most = now = 0
    for _t, step in events:
        now += step
        most = max(most, now)
    return most
