"""The stop policy (engine.runner.stop): what each signal asks of a worker in a terminal and in
a cluster job, done to real slots, by a real signal; a run process's side of it; and how a
slot classifies an attempt from what it saw (engine.runner.slot.classify)."""

from __future__ import annotations

import os
import signal
import sys
import textwrap

import pytest

from engine.runner.run_process import RunProcess
from engine.runner.slot import Slot, classify
from engine.runner.slot_setup import SlotOptions
from engine.runner.stop import CLUSTER_JOB, JOB_CANCELLED, JOB_PREEMPTED, TERMINAL, WORKER_STOPPED, StopPolicy
from engine.spec import Outcome, RunStatus, StopAction
from engine.store.db import db_url, open_db
from tests.support.env import REPO, wait_for


@pytest.fixture
def slots(db: str) -> list[Slot]:
    engine = open_db(db)
    return [Slot(engine, SlotOptions(db_url(db), "cpu", label=f"cpu#{i}", warm=False)) for i in (1, 2)]


def test_a_terminal_finishes_on_the_first_ctrl_c_and_requeues_on_the_second_or_on_sigterm():
    said: list[str] = []
    policy = StopPolicy(TERMINAL, [], say=said.append)
    first, second, third = (policy.handle(signal.SIGINT) for _ in range(3))
    assert first.action == StopAction.FINISH and not first.action.requeues
    assert (second.action, second.reason) == (third.action, third.reason) == (StopAction.REQUEUE, WORKER_STOPPED)
    assert said[0].startswith("stopping after the current run") and said[1:] == [second.said] * 2
    term = StopPolicy(TERMINAL, []).handle(signal.SIGTERM)
    assert (term.action, term.reason, term.said) == (StopAction.REQUEUE, WORKER_STOPPED, "")
    usr2 = StopPolicy(TERMINAL, []).handle(signal.SIGUSR2)  # `xltui worker` in a user's own sbatch script
    assert (usr2.action, usr2.reason) == (StopAction.PREEMPTED, JOB_PREEMPTED)
    with pytest.raises(KeyError):
        policy.handle(signal.SIGHUP)  # not the policy's: its default stays


def test_a_cluster_job_requeues_on_scancel_and_is_preempted_on_usr2():
    cancel, preempt = StopPolicy(CLUSTER_JOB, []).handle(signal.SIGTERM), StopPolicy(CLUSTER_JOB, []).handle(signal.SIGUSR2)
    assert (cancel.action, cancel.reason) == (StopAction.REQUEUE, JOB_CANCELLED)
    assert (preempt.action, preempt.reason) == (StopAction.PREEMPTED, JOB_PREEMPTED)
    assert preempt.action.requeues and "preempted" in preempt.reason  # what the attempt's error says
    assert StopAction.EXIT not in {s.action for steps in (*TERMINAL.values(), *CLUSTER_JOB.values()) for s in steps}


def test_real_signals_stop_every_slot_as_the_policy_says(slots: list[Slot]):
    previous = {s: signal.getsignal(s) for s in TERMINAL}
    try:
        StopPolicy(TERMINAL, slots).install()
        os.kill(os.getpid(), signal.SIGINT)
        wait_for(lambda: all(s.stop_claiming.is_set() for s in slots), timeout=10, what="the first Ctrl-C")
        assert not any(s.abort.is_set() for s in slots)  # the current runs finish
        os.kill(os.getpid(), signal.SIGINT)
        wait_for(lambda: all(s.abort.is_set() for s in slots), timeout=10, what="the second Ctrl-C")
        assert {s.abort_reason for s in slots} == {WORKER_STOPPED}
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def test_a_slot_asked_through_its_row_finishes_and_a_preemption_gives_its_reason(slots: list[Slot]):
    first, second = slots
    first.request_stop()
    assert first.stop_claiming.is_set() and not first.abort.is_set()
    StopPolicy(CLUSTER_JOB, [second]).handle(signal.SIGUSR2)
    assert second.stop_claiming.is_set() and second.abort.is_set() and second.abort_reason == JOB_PREEMPTED


def test_a_run_process_ignores_the_clusters_warning_and_ends_on_sigterm(tmp_path):
    ready = tmp_path / "ready"
    code = textwrap.dedent(f"""
        import pathlib, time
        from engine.training.run import _stop_on_signals
        _stop_on_signals()
        pathlib.Path({str(ready)!r}).write_text("1")
        time.sleep(600)
    """)
    proc = RunProcess.cold([sys.executable, "-c", code], cwd=str(REPO), env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        wait_for(ready.is_file, timeout=120, what="the run process's handlers")
        assert proc.signal(signal.SIGUSR2)  # ignored: an ignored signal is dropped as it is sent
        assert proc.signal(signal.SIGTERM)
        assert proc.wait(60) == 128 + signal.SIGTERM  # it ended of the SIGTERM, cleanly, not of the USR2 (-12)
    finally:
        proc.kill(grace_s=1)


@pytest.mark.parametrize(("lost", "aborted", "status", "outcome"), [
    (False, False, RunStatus.SUCCEEDED, Outcome.SUCCEEDED),
    (False, True, RunStatus.SUCCEEDED, Outcome.SUCCEEDED),  # killed after it stored its results: nothing lost
    (False, True, RunStatus.RUNNING, Outcome.REQUEUED),  # the worker's stop (or its signal reached the run too)
    (False, False, RunStatus.RUNNING, Outcome.FAILED),  # ended without results: its exit status says why
    (True, False, None, Outcome.LOST),  # cancelled or taken over
    (True, True, None, Outcome.LOST),
])
def test_an_attempt_is_classified_from_what_its_slot_saw(lost, aborted, status, outcome):
    assert classify(lost=lost, aborted=aborted, status=status) == outcome
