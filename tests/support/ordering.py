"""The order test files start in a parallel run: longest first, from their measured durations.

pytest-xdist (``--dist loadscope``) hands each process one file (or test class) at a time, in
collection order; its own default reorders them by number of tests, which starts a file of six
two-minute tests last and leaves one process finishing it alone while the others idle. Longest
first (the classic LPT rule) keeps every process busy to the end. The durations come from a real
run (``XLTUI_RECORD_TEST_DURATIONS=tests/durations.json python -m pytest``) and are committed; a
scope not in the file yet counts as the median, so a new file neither jumps the queue nor trails it.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path

DURATIONS = Path(__file__).resolve().parents[1] / "durations.json"
RECORD_ENV = "XLTUI_RECORD_TEST_DURATIONS"


def scope_of(nodeid: str) -> str:
    """The unit xdist's loadscope schedules: a test's file, or its class (``file.py::Class``)."""
    return nodeid.rsplit("::", 1)[0]


def load(path: Path = DURATIONS) -> dict[str, float]:
    return json.loads(path.read_text()) if path.is_file() else {}


def longest_first(nodeids: list[str], durations: dict[str, float]) -> list[int]:
    """Positions of ``nodeids`` with their scopes longest first; a scope's tests stay together, in their
    own order (module fixtures are set up once)."""
    default = statistics.median(durations.values()) if durations else 0.0
    first_seen: dict[str, int] = {}
    for index, nodeid in enumerate(nodeids):
        first_seen.setdefault(scope_of(nodeid), index)

    def key(index: int) -> tuple[float, int, int]:
        scope = scope_of(nodeids[index])
        return -durations.get(scope, default), first_seen[scope], index

    return sorted(range(len(nodeids)), key=key)


class Recorder:
    """Sums each scope's setup, call and teardown times as reports arrive (in the controlling process)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def add(self, nodeid: str, duration: float) -> None:
        self.seconds[scope_of(nodeid)] += duration

    def write(self, path: Path) -> None:
        rounded = {scope: round(s, 1) for scope, s in sorted(self.seconds.items(), key=lambda kv: -kv[1])}
        path.write_text(json.dumps(rounded, indent=1) + "\n")
