"""A real single-node Slurm for the tests: Debian's munged, slurmctld and slurmd, started as root.

Follows /work/shared/notes/slurm-single-node.md: the node line comes from ``slurmd -C``,
``select/cons_tres`` with ``CR_Core`` (a 2-core machine runs two 1-CPU array tasks at once),
``proctrack/pgid``, ``task/none``, no accounting (no slurmdbd: ``sacct`` fails, so read job
states from ``squeue``/``scontrol``), ``SlurmUser=root``. Also ``KillWait=10``,
``MinJobAge=300`` (finished jobs stay in ``squeue -t all`` / ``scontrol show job`` for five
minutes; a plain ``squeue`` hides COMPLETED ones at once) and ``JobRequeue=1``.

Requeue delay (measured on slurm-wlm 22.05.8): after ``scontrol requeue JOBID`` Slurm sets
the job's BeginTime to now + ``AuthInfo=cred_expire`` + 1 s, the time the revoked launch
credential stays remembered (the man page: "This also controls how long a requeued job must
wait before starting again"). The default cred_expire is 120 s, so a requeued task shows
``PENDING (BeginTime)`` for 121 s and, with the default ``sched_interval=60``, started again
only 158 s after the requeue. Here ``AuthInfo=cred_expire=5`` (Slurm's minimum; smaller is
refused and silently becomes 120) and ``SchedulerParameters=sched_interval=1``: a requeued
running task runs again about 9-10 s later (2-3 s to end the old one, 6 s BeginTime, <1 s to
schedule). cred_expire is also how long a launch credential is valid, 5 s is ample on one node.

Signals: ``scancel --signal=USR2 JOBID_0`` reaches only job *steps* (what ``srun`` starts, as
submitit's scripts do); a ``--wrap`` job without srun gets nothing. ``scancel --full`` also
signals the batch shell, which dies of USR2 (the job ends FAILED, ExitCode 0:12) unless the
wrap ``exec``s its program. Jobs see the submitting environment (``--export=ALL``, the default).

submitit (1.5.4) works against this cluster: ids are ``"<array>_<task>"`` (``"1_0"``, ``"1_1"``)
from a ``with executor.batch()`` of two, a plain ``"3"`` from a batch of one; ``job.result()``
returns (it waits for the result pickle), but ``job.state`` is always ``UNKNOWN`` (it asks
``sacct``, which says "Slurm accounting storage is disabled", and logs a warning each time).
With ``timeout_min`` under 50, submitit calls every USR2 a time-out, not a preemption: it
requeues (``scontrol requeue``, the task runs again ~10 s later) but counts it against
``slurm_max_num_timeout`` (3).

The daemons use the fixed /etc/slurm/slurm.conf (what sbatch, squeue and submitit read), so one
cluster serves the whole machine: ``start()`` reuses a cluster that already answers ``sinfo``
(``started=False``) and registers every caller; the daemons xltui started are stopped by the
last ``stop()`` of the callers still alive, which also restores any previous slurm.conf. A
cluster xltui did not start is never stopped. Starting takes about 0.3-1.2 s; stopping with
jobs still running up to KillWait + a few s (the jobs are cancelled first).
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.daemon_procs import alive, fatal_in, kill, log_tail, pid_from, run_cmd, stepds_of, wait_gone

CONF = Path("/etc/slurm/slurm.conf")
MUNGE_KEY = Path("/etc/munge/munge.key")
MUNGE_RUN = Path("/run/munge")
MUNGE_PID = MUNGE_RUN / "munged.pid"
STATE = Path("/run/xltui-slurm")  # lock, the record of what was started, and who holds the cluster
PARTITION = "debug"
CRED_EXPIRE_S = 5  # Slurm's minimum; a requeued job waits this + 1 s before it may start again
READY_STATES = ("idle", "mix", "alloc", "comp")  # a node that answers (sinfo's short state names)


class SlurmUnavailable(RuntimeError):
    """The daemons could not start here; the message is the daemon's own error."""


class _Lock:
    """Serialise start()/stop() between processes (pytest sessions) on this machine."""

    def __enter__(self) -> _Lock:
        STATE.mkdir(mode=0o700, parents=True, exist_ok=True)
        (STATE / "holders").mkdir(exist_ok=True)
        self._fd = os.open(STATE / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *_: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


def _live_holders() -> list[Path]:
    live = []
    for h in (STATE / "holders").glob("*"):
        pid = int(h.name.split("-")[0]) if h.name.split("-")[0].isdigit() else 0
        if alive(pid):
            live.append(h)
        else:
            h.unlink(missing_ok=True)  # a session that ended without stop()
    return live


def _running(name: str) -> list[int]:
    return [int(p) for p in run_cmd("pgrep", "-x", name).stdout.split() if alive(int(p), name)]


def _worth_asking() -> bool:
    """False when slurm.conf names this machine as the controller and no slurmctld runs here:
    sinfo would only retry for 9 s before it says "Unable to contact slurm controller"."""
    if _running("slurmctld"):
        return True
    try:
        text = Path(os.environ.get("SLURM_CONF", CONF)).read_text()
    except OSError:
        return True  # no file: sinfo fails at once (or finds a configless controller)
    hosts = [ln.split("=", 1)[1].split("(")[0].strip() for ln in text.splitlines()
             if ln.strip().lower().startswith(("slurmctldhost=", "controlmachine="))]
    here = {socket.gethostname(), socket.gethostname().split(".")[0], "localhost"}
    return not hosts or not set(hosts) <= here


def _answers() -> tuple[str, list[tuple[str, str]]] | None:
    """(default partition, [(node, state)]) when a cluster answers sinfo with a usable node, else None."""
    if not _worth_asking():
        return None
    proc = run_cmd("sinfo", "-h", "-N", "-o", "%P %N %t", timeout=15)
    if proc.returncode != 0:
        return None
    rows = [ln.split() for ln in proc.stdout.splitlines() if len(ln.split()) == 3]
    if not rows:
        return None
    default = next((p.rstrip("*") for p, _, _ in rows if p.endswith("*")), rows[0][0].rstrip("*"))
    nodes = [(n, t.rstrip("*~#!%$@^-")) for p, n, t in rows if p.rstrip("*") == default]
    return (default, nodes) if any(t in READY_STATES for _, t in nodes) else None


@dataclass
class SlurmCluster:
    partition: str  # the partition name, e.g. "debug"
    conf: Path  # the slurm.conf used
    started: bool  # True if this process started the daemons (then stop() stops them)
    _holder: Path | None = field(default=None, repr=False)

    def squeue(self, all_states: bool = False) -> str:
        """``squeue -h -o "%i %T %j"`` (with ``-t all`` also the finished jobs still remembered), for debugging."""
        proc = run_cmd("squeue", "-h", "-o", "%i %T %j", *(["-t", "all"] if all_states else []))
        return (proc.stdout if proc.returncode == 0 else proc.stderr).strip()

    def job(self, job_id: str) -> dict[str, str]:
        """``scontrol show job -o JOBID`` as a dict (JobState, Reason, Restarts, BeginTime, ...);
        {} once Slurm forgot the job (MinJobAge after it ended)."""
        proc = run_cmd("scontrol", "show", "job", "-o", job_id)
        if proc.returncode != 0 or not proc.stdout.strip():
            return {}
        line = proc.stdout.strip().splitlines()[0]
        return dict(kv.split("=", 1) for kv in line.split() if "=" in kv)

    def stop(self) -> None:
        """Stop the daemons xltui started, unless another live caller still holds them; safe to call twice."""
        if self._holder is None:
            return
        with _Lock():
            self._holder.unlink(missing_ok=True)
            self._holder = None
            if not _live_holders():
                _teardown()


def _teardown() -> None:
    """Stop what the record in STATE says xltui started and put the machine back as it was."""
    record_path = STATE / "started.json"
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        return
    folder = Path(record["folder"])
    ctld, slurmd = record.get("slurmctld"), record.get("slurmd")
    if alive(ctld, "slurmctld"):
        # end the jobs first: a slurmstepd whose job is still ending when slurmctld goes retries for ever
        ids = run_cmd("squeue", "-h", "-o", "%A").stdout.split()
        if ids:
            run_cmd("scancel", "--full", *ids)
            deadline = time.monotonic() + 20  # KillWait=10, then SIGKILL
            while time.monotonic() < deadline and run_cmd("squeue", "-h", "-t", "R,CG,CF,S,ST", "-o", "%A").stdout.strip():
                time.sleep(0.2)
        run_cmd("scontrol", "shutdown", timeout=15)
    daemons = [(p, n) for p, n in ((ctld, "slurmctld"), (slurmd, "slurmd")) if p]
    if not wait_gone(daemons, 15):
        for pid, name in daemons:
            kill(pid, name)
    for pid in stepds_of(folder):
        kill(pid, "slurmstepd", grace_s=2)
    if record.get("munged"):
        kill(record["munged"], "munged")
    if record.get("conf_backup"):
        shutil.copy2(record["conf_backup"], CONF)
    else:
        CONF.unlink(missing_ok=True)
    if record.get("created_key"):
        MUNGE_KEY.unlink(missing_ok=True)
    if record.get("created_munge_run"):
        shutil.rmtree(MUNGE_RUN, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    record_path.unlink(missing_ok=True)


def _munge_works() -> bool:
    cred = run_cmd("munge", "-n", timeout=10)
    if cred.returncode != 0:
        return False
    try:
        return subprocess.run(["unmunge"], input=cred.stdout, capture_output=True, text=True,
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _conf_text(folder: Path, node_line: str, host: str) -> str:
    return f"""\
# written by xltui's tests (tests/support/slurm.py); the previous file comes back when they end
ClusterName=xltui
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=cred_expire={CRED_EXPIRE_S}
StateSaveLocation={folder}/ctld
SlurmdSpoolDir={folder}/slurmd
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=sched_interval=1
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
KillWait=10
MinJobAge=300
JobRequeue=1
{node_line} State=UNKNOWN
PartitionName={PARTITION} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def _start_daemons(record: dict, folder: Path, timeout_s: float) -> None:
    """Start munged (if none works), slurmctld and slurmd; fill ``record`` as they come up."""
    if not _munge_works():
        if not MUNGE_RUN.is_dir():
            MUNGE_RUN.mkdir(mode=0o755, parents=True)
            record["created_munge_run"] = True
        shutil.chown(MUNGE_RUN, "munge", "munge")
        if not MUNGE_KEY.exists():
            maker = run_cmd("mungekey", "--create", f"--keyfile={MUNGE_KEY}")
            if maker.returncode != 0 and shutil.which("create-munge-key"):
                maker = run_cmd("create-munge-key", "-f")
            if not MUNGE_KEY.exists():
                raise SlurmUnavailable(f"no munge key and none could be made: {log_tail(None, maker.stderr)}")
            record["created_key"] = True
            shutil.chown(MUNGE_KEY, "munge", "munge")
            MUNGE_KEY.chmod(0o600)
        _save(record)
        proc = run_cmd("runuser", "-u", "munge", "--", "munged")
        deadline = time.monotonic() + 10
        while not _munge_works():
            if time.monotonic() > deadline or proc.returncode != 0:
                raise SlurmUnavailable(f"munged did not start: {log_tail(Path('/var/log/munge/munged.log'), proc.stderr)}")
            time.sleep(0.1)
        record["munged"] = pid_from(MUNGE_PID)
        _save(record)
    for name in ("slurmctld", "slurmd"):
        log = folder / f"{name}.log"
        # both daemonise; errors before that (a bad slurm.conf) are on stderr, later ones in the log
        with open(folder / f"{name}.stderr", "w+") as err:
            code = subprocess.run([name, "-c"] if name == "slurmctld" else [name], stdout=err, stderr=err,
                                  stdin=subprocess.DEVNULL, timeout=30).returncode
            err.seek(0)
            said = err.read()
        pid_file = folder / f"{name}.pid"
        deadline = time.monotonic() + 10
        while not alive(pid_from(pid_file), name) and code == 0 and time.monotonic() < deadline:
            if fatal_in(log):
                break
            time.sleep(0.05)
        record[name] = pid_from(pid_file)
        _save(record)
        if code != 0 or not alive(record[name], name):
            how = f" (exit {code})" if code else ""
            raise SlurmUnavailable(f"{name} did not start{how}: {log_tail(log, said)}")
    deadline = time.monotonic() + timeout_s
    while True:
        proc = run_cmd("sinfo", "-h", "-N", "-o", "%N %t", timeout=15)
        states = [ln.split()[1].rstrip("*~#!%$@^-") for ln in proc.stdout.splitlines() if len(ln.split()) == 2]
        if proc.returncode == 0 and "idle" in states:
            return
        for name in ("slurmctld", "slurmd"):
            if not alive(record[name], name):
                raise SlurmUnavailable(f"{name} exited: {log_tail(folder / f'{name}.log')}")
        if time.monotonic() > deadline:
            said = "; ".join(f"{n}: {log_tail(folder / f'{n}.log', lines=4)}" for n in ("slurmctld", "slurmd"))
            raise SlurmUnavailable(f"the node is not idle after {timeout_s:g} s (sinfo: "
                                   f"{(proc.stdout or proc.stderr).strip() or 'nothing'}); {said}")
        time.sleep(0.1)


def _save(record: dict) -> None:
    (STATE / "started.json").write_text(json.dumps(record))


def _hold(partition: str, conf: Path, started: bool) -> SlurmCluster:
    holder = STATE / "holders" / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    holder.touch()
    return SlurmCluster(partition, conf, started, _holder=holder)


def start(timeout_s: float = 60) -> SlurmCluster:
    """Start munged, slurmctld and slurmd for this one node (or reuse a working cluster that answers
    ``sinfo``), wait until ``sinfo`` shows the node idle, and return.

    SlurmUnavailable, with the daemon's own error, when this machine cannot (not root, no Slurm
    binaries, a daemon exits, the node never becomes idle within ``timeout_s``)."""
    if os.geteuid() != 0:
        answered = _answers()
        if answered is None:
            raise SlurmUnavailable(f"Slurm's daemons need root here (SlurmUser=root, munged as munge); "
                                   f"running as {pwd.getpwuid(os.geteuid()).pw_name}")
        return SlurmCluster(answered[0], Path(os.environ.get("SLURM_CONF", CONF)), False)  # nothing to stop
    with _Lock():
        answered = _answers()
        if answered is not None:
            conf = Path(os.environ.get("SLURM_CONF", CONF))
            return _hold(answered[0], conf, False)
        _teardown()  # what a session that died without stop() left behind, if anything
        for name in ("slurmctld", "slurmd", "munged", "munge", "sinfo"):
            if shutil.which(name) is None:
                raise SlurmUnavailable(f"no {name} binary on this machine: apt-get install slurm-wlm munge")
        for name in ("slurmctld", "slurmd"):
            running = _running(name)
            if running:
                raise SlurmUnavailable(f"a {name} not started by these tests runs here (pid {running[0]}) but no "
                                       f"cluster answers sinfo: {run_cmd('sinfo', timeout=15).stderr.strip()}")
        probe = run_cmd("slurmd", "-C")
        node_line = probe.stdout.splitlines()[0].strip() if probe.returncode == 0 and probe.stdout else ""
        if not node_line.startswith("NodeName="):
            raise SlurmUnavailable(f"slurmd -C failed: {log_tail(None, probe.stderr or probe.stdout)}")
        host = node_line.split()[0].split("=", 1)[1]
        folder = Path(tempfile.mkdtemp(prefix="xltui-slurm-"))
        for sub in ("ctld", "slurmd"):
            (folder / sub).mkdir()
        record: dict = {"folder": str(folder)}
        if CONF.exists():
            shutil.copy2(CONF, folder / "slurm.conf.before")
            record["conf_backup"] = str(folder / "slurm.conf.before")
        _save(record)
        try:
            CONF.parent.mkdir(parents=True, exist_ok=True)
            CONF.write_text(_conf_text(folder, node_line, host))
            _start_daemons(record, folder, timeout_s)
        except BaseException:
            _teardown()
            raise
        return _hold(PARTITION, CONF, True)
