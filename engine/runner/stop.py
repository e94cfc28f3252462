"""The stop policy, defined once: which signal asks what of a worker, and acting on it.

In the spirit of submitit's ``core/job_environment.py`` signal handler: a table says what
each signal means (a ``StopAction``, engine.states) where the worker runs, and one handler
does it to the worker's slots. The worker (`xltui worker`) and the foreground runner
(`xltui run`, xltui/foreground.py) install ``TERMINAL``; a Slurm job (engine.runner.slurm)
installs ``CLUSTER_JOB``'s SIGTERM and hands SIGUSR2 over from submitit's handler, which
calls the job's ``checkpoint``.

    where          signal                               action     what the worker does
    a terminal     Ctrl-C (SIGINT)                      FINISH     each slot finishes its run, claims no more
                   Ctrl-C again                         REQUEUE    the runs stop now and go back to the queue
                   SIGTERM (kill, a shutdown)           REQUEUE
                   SIGUSR2 (a user's own sbatch script  PREEMPTED  REQUEUE: `xltui worker` under
                   with --signal=USR2@…)                           a job xltui did not submit
    a cluster job  SIGTERM (scancel)                    REQUEUE    ... and the job ends
                   SIGUSR2 (Slurm's --signal: preempted PREEMPTED  REQUEUE, then the cluster requeues the
                   or the time limit is near)                      job, which starts a fresh worker
    anywhere       a stop request in its row (the app)  FINISH     (seen at the slot's heartbeat: engine.runner.slot)

A re-queued attempt does not count against the run's attempts, and costs no lease
timeout. A run process has its own side of the policy (engine.training.run, which may not
import the runner): SIGTERM, its worker stopping it (a re-queue, an abort, a lost lease) or a
kill from outside, is SAVE: a training loop saves its state at its next step boundary and
the run ends (engine.training.interrupt), so the next attempt continues from there; the
cluster's SIGUSR2, which Slurm sends to every process of the job, is IGNORE (its worker
re-queues it); its worker gone is SAVE too.
"""

from __future__ import annotations

import signal
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Protocol

from engine.spec import StopAction

WORKER_STOPPED = "worker stopped; run re-queued"
JOB_CANCELLED = "job cancelled; run re-queued"
JOB_PREEMPTED = "job preempted or out of time; run re-queued"


@dataclass(frozen=True)
class Stop:
    """What one signal asks of a worker: ``action``; ``reason``: the re-queued attempt's error;
    ``said``: told to the user as it happens."""

    action: StopAction
    reason: str = ""
    said: str = ""


Policy = Mapping[int, tuple[Stop, ...]]  # signal -> what it asks the first time, the second, … (the last repeats)

TERMINAL: Policy = {
    signal.SIGINT: (Stop(StopAction.FINISH, said="stopping after the current run — Ctrl-C again to stop it now "
                                                 "(it is re-queued)"),
                    Stop(StopAction.REQUEUE, WORKER_STOPPED,
                         said="stopping the current run; it goes back to the queue")),
    signal.SIGTERM: (Stop(StopAction.REQUEUE, WORKER_STOPPED),),
    # a worker in a batch script of the user's own (not `xltui slurm submit`): Slurm's warning puts its runs
    # back now instead of killing the worker (USR2's default) and leaving them to a lease timeout
    signal.SIGUSR2: (Stop(StopAction.PREEMPTED, JOB_PREEMPTED, said="preempted or out of time: re-queuing the "
                                                                    "current runs"),),
}
CLUSTER_JOB: Policy = {
    signal.SIGTERM: (Stop(StopAction.REQUEUE, JOB_CANCELLED),),
    signal.SIGUSR2: (Stop(StopAction.PREEMPTED, JOB_PREEMPTED, said="preempted or out of time: re-queuing the "
                                                                    "current runs"),),
}


class Stoppable(Protocol):
    """What a stop acts on: a worker slot (engine.runner.slot.Slot)."""

    def stop(self, action: StopAction, reason: str = "") -> None: ...


class StopPolicy:
    """One worker process's signal handler: what a signal asks (by ``policy``, counting repeats),
    done to every slot, and said through ``say``."""

    def __init__(self, policy: Policy, slots: Iterable[Stoppable], say: Callable[[str], None] | None = None):
        self.policy, self.slots = policy, list(slots)
        self.say = say or (lambda _m: None)
        self.received: Counter[int] = Counter()

    def stop_for(self, signum: int) -> Stop:
        """What ``signum`` asks now, counting this one; KeyError for a signal the policy does not name."""
        steps = self.policy[signum]
        self.received[signum] += 1
        return steps[min(self.received[signum], len(steps)) - 1]

    def handle(self, signum: int, _frame: object = None) -> Stop:
        """The signal handler (also called by hand: a Slurm job's checkpoint for SIGUSR2)."""
        stop = self.stop_for(signum)
        for slot in self.slots:
            slot.stop(stop.action, stop.reason)
        if stop.said:
            self.say(stop.said)
        return stop

    def install(self, signals: Iterable[int] | None = None) -> None:
        """Handle ``signals`` (default: every signal of the policy) from now on; main thread only."""
        for signum in self.policy if signals is None else signals:
            signal.signal(signum, self.handle)
