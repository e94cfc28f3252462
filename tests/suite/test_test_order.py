"""The parallel run starts the longest test files first (tests/support/ordering.py), and the
durations it orders by are written by a real run."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import ordering
from tests.support.env import REPO

IDS = ["a.py::test_1", "a.py::test_2", "b.py::T::test_x[1]", "b.py::T::test_x[2]", "b.py::test_y", "c.py::test_z",
       "new.py::test_q"]


def test_scopes_are_files_or_classes_as_xdist_schedules_them():
    assert [ordering.scope_of(i) for i in IDS] == ["a.py", "a.py", "b.py::T", "b.py::T", "b.py", "c.py", "new.py"]


def test_longest_scope_first_its_tests_kept_together_in_order_and_an_unknown_one_at_the_median():
    durations = {"a.py": 5.0, "b.py::T": 100.0, "b.py": 1.0, "c.py": 50.0}  # median 27.5: new.py after c.py
    order = [IDS[i] for i in ordering.longest_first(IDS, durations)]
    assert order == ["b.py::T::test_x[1]", "b.py::T::test_x[2]", "c.py::test_z", "new.py::test_q",
                     "a.py::test_1", "a.py::test_2", "b.py::test_y"]
    assert [IDS[i] for i in ordering.longest_first(IDS, {})] == IDS  # nothing measured: collection order


def test_the_committed_durations_name_test_files_that_exist():
    durations = ordering.load()
    assert durations and all(v >= 0 for v in durations.values())
    missing = [s for s in durations if not (REPO / s.split("::")[0]).is_file()]
    assert missing == [], f"tests/durations.json names files that are gone: {missing}; record it again"


def test_the_recorder_sums_each_scopes_setup_call_and_teardown_longest_first(tmp_path: Path):
    recorder = ordering.Recorder()
    for nodeid, seconds in [("a.py::test_1", 1.0), ("a.py::test_1", 0.25), ("b.py::T::test_x[1]", 3.0),
                            ("b.py::T::test_x[2]", 2.0), ("a.py::test_2", 0.5)]:
        recorder.add(nodeid, seconds)
    recorder.write(tmp_path / "d.json")
    assert list(json.loads((tmp_path / "d.json").read_text()).items()) == [("b.py::T", 5.0), ("a.py", 1.8)]
    assert ordering.load(tmp_path / "d.json") == {"b.py::T": 5.0, "a.py": 1.8}
