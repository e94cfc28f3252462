"""A CPU run's thread count (engine.training.cpu_threads): its share of its worker's cores, and
that a run forked from a process that imported torch at one thread (a warm launcher) really
grows its OpenMP pool when its share grows. The worker side, with real runs:
tests/runner/test_cpu_share.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from engine.training.cpu_threads import MIN_LOOK_S, OtherLoad, free_cores, settle, share

# A warm launcher's life in small: import torch at one thread (and even run something at one
# thread), fork, and in the child raise the count; the child's parallel work then runs on more
# OS threads (its tasks in /proc), as it would in a fresh process started with that count.
FORKED = """
import os, torch
assert torch.get_num_threads() == 1
tasks = lambda: len(os.listdir("/proc/self/task"))
x = torch.randn(2_000_000)
float((x * 2).sum())  # the launcher's own work, at one thread: no pool is made
pid = os.fork()
if pid == 0:
    before = tasks()
    torch.set_num_threads(2)
    for _ in range(5):
        float((x * 2).sum())  # an element-wise op over 2M values: parallel
    print(before, tasks(), torch.get_num_threads(), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
"""


def test_a_share_is_the_cores_split_evenly_the_rest_to_the_earliest_runs():
    assert share(2, [7], 7) == 2  # alone: every core
    assert share(2, [], 7) == 2  # not marked running yet: counted anyway
    assert [share(2, [3, 7], r) for r in (3, 7)] == [1, 1]
    assert [share(3, [3, 7], r) for r in (3, 7)] == [2, 1]  # no core left idle
    assert [share(8, [1, 2, 3], r) for r in (1, 2, 3)] == [3, 3, 2]
    assert share(2, [1, 2, 3], 3) == 1  # more runs than cores: one thread each, never none


def test_a_core_half_busy_elsewhere_or_more_is_not_free():
    assert [free_cores(2, others) for others in (0.0, 0.3, 0.49, 0.5, 1.0, 1.8, 2.5)] == [2, 2, 2, 1, 1, 1, 1]
    assert free_cores(16, 13.2) == 3


def test_another_process_busy_on_the_cores_is_seen_and_this_ones_own_work_is_not(monkeypatch):
    """A child that spins counts as other load (at least the CPU time it got); the spinning of the
    process that looks does not (whatever else the machine runs only adds to what is seen)."""
    import psutil

    monkeypatch.delenv("XLTUI_TEST_CPU_OTHERS", raising=False)
    load = OtherLoad()
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        begun, used = time.monotonic(), psutil.Process(child.pid).cpu_times()
        until = begun + max(1.0, 2 * MIN_LOOK_S)
        while time.monotonic() < until:  # this process spins too
            pass
        others = load.cores()
        now = psutil.Process(child.pid).cpu_times()
        child_cores = (now.user + now.system - used.user - used.system) / (time.monotonic() - begun)
    finally:
        child.kill()
        child.wait()
    assert others >= child_cores - 0.1, (others, child_cores)
    monkeypatch.setenv("XLTUI_TEST_CPU_OTHERS", "1.5")
    assert load.cores() == 1.5


def test_a_run_gives_threads_up_at_once_and_takes_more_only_when_two_reads_agree():
    assert settle(2, 0, 1) == (1, 0)  # a run started beside it: at once
    assert settle(1, 0, 2) == (1, 2)  # a run ended: maybe its slot is about to claim the next
    assert settle(1, 2, 1) == (1, 0)  # it did
    assert settle(1, 2, 2) == (2, 0)  # it did not: take the cores
    assert settle(2, 0, 2) == (2, 0)


@pytest.mark.slow  # a subprocess that imports torch
def test_a_forked_run_grows_its_thread_pool_when_its_share_grows():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "MKL_", "GOMP_"))}
    env.update(OMP_NUM_THREADS="1", GOMP_SPINCOUNT="30000")  # as a worker with two CPU slots starts its launcher
    out = subprocess.run([sys.executable, "-c", FORKED], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    before, after, threads = map(int, out.stdout.split())
    assert threads == 2
    assert after >= before + 1, f"no new OpenMP thread after set_num_threads(2) in the forked child: {out.stdout}"
