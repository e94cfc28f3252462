"""Every environment variable xltui reads, and the root folders they point at, defined once.

Pure and light (the standard library only): the CLI reads these before anything
heavy is imported, and every stage asks here instead of reading ``os.environ``
itself, so a variable's name, default and meaning cannot drift between modules.

=================  ==========================  ==============================================
variable           default                     what
=================  ==========================  ==============================================
XLTUI_DB           ./experiments.db            the database: a path or an SQLAlchemy URL
XLTUI_DATA         ../shared/data              the catalog's datasets (ner/, pos/)
XLTUI_CACHE        ~/.cache/xltui              converted datasets, tokenised splits; safe to delete
XLTUI_ARTIFACTS    xltui-artifacts/ beside     checkpoints, adapters, predictions and logs of runs;
                   the SQLite file (else cwd)  a path every worker reaches
XLTUI_WARM         1                           0: start each run in a fresh interpreter (--no-warm)
XLTUI_DISK_PAUSE   60                          seconds a worker waits between looks at a full disk
XLTUI_GRAD_ACCUM.  1                           set by the worker for a run: micro-batches per step
                                               (doubled after each CUDA out-of-memory)
XLTUI_CHECKPOINT_  15m                         how often a run saves its training state (an integer:
EVERY                                          optimizer steps; 90s, 15m, 1h: wall time; 0/off: only
                                               when asked to stop); not part of a run's identity
XLTUI_KEEP_STATE   0                           1: a run that succeeds keeps its last training state
                                               and best weights (else they are deleted)
XLTUI_CPU_CORES    unset                       set by a worker with several CPU slots for its runs: the
                                               cores they share (each run takes its share of those
                                               other processes leave free: engine.training.cpu_threads)
XLTUI_TEST_OOM_..  unset                       tests only: a micro-batch above N raises a simulated
                                               CUDA out-of-memory (no GPU needed)
XLTUI_TEST_SIGNA.  unset                       tests only: where:N:SIGNAL — a run that did not resume sends
                                               itself SIGNAL after step N, the save at step N, or before
                                               epoch N's dev evaluation (where: step, save, eval)
XLTUI_TEST_CPU_O.  unset                       tests only: the cores a CPU run sees busy with other
                                               processes (instead of measuring them)
HF_HUB_OFFLINE,    unset                       Hugging Face's own switches, honoured even when set
HF_DATASETS_OFFL.                              after huggingface_hub was imported
=================  ==========================  ==============================================
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

DB_ENV = "XLTUI_DB"
DEFAULT_DB = "experiments.db"
DATA_ENV = "XLTUI_DATA"
DEFAULT_DATA_DIR = "../shared/data"
CACHE_ENV = "XLTUI_CACHE"
DEFAULT_CACHE_DIR = "~/.cache/xltui"
ARTIFACTS_ENV = "XLTUI_ARTIFACTS"
ARTIFACTS_DIR = "xltui-artifacts"
HUB_OFFLINE_ENVS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
WARM_ENV = "XLTUI_WARM"  # 0: workers start every run in a fresh interpreter (the --no-warm flag)
WARM_SERVER_ENV = "XLTUI_WARM_SERVER"  # a warm server's socket: slots fork their launcher from it
DISK_PAUSE_ENV = "XLTUI_DISK_PAUSE"
GRAD_ACCUMULATION_ENV = "XLTUI_GRAD_ACCUMULATION"
CPU_CORES_ENV = "XLTUI_CPU_CORES"
TEST_OOM_ENV = "XLTUI_TEST_OOM_ABOVE"
CHECKPOINT_EVERY_ENV = "XLTUI_CHECKPOINT_EVERY"
DEFAULT_CHECKPOINT_EVERY = "15m"
KEEP_STATE_ENV = "XLTUI_KEEP_STATE"
TEST_CPU_OTHERS_ENV = "XLTUI_TEST_CPU_OTHERS"
TEST_SIGNAL_ENV = "XLTUI_TEST_SIGNAL_AT"
TEST_HOLD_ENV = "XLTUI_TEST_HOLD_AT"
TEST_GPUS_ENV = "XLTUI_TEST_GPUS"  # fake GPUs for tests and demos on a CPU box: "80,80" or "80:60" (GiB total[:free])
DEFAULT_DISK_PAUSE_S = 60.0

# queue policy defaults, also the CLI flags' defaults (--lease, --max-attempts)
DEFAULT_LEASE_S = 60.0  # a run whose worker stops renewing for this long goes back to the queue
DEFAULT_MAX_ATTEMPTS = 3  # claims before a run whose worker keeps vanishing is failed


def db_setting(db: str | None = None) -> str:
    """``--db`` if given, else ``$XLTUI_DB``, else ``experiments.db`` (a path or a URL, as written)."""
    return db or os.environ.get(DB_ENV) or DEFAULT_DB


def db_url_of(db: str | None = None) -> str:
    """A path or an SQLAlchemy URL (``--db`` / ``XLTUI_DB``) as an SQLAlchemy URL."""
    db = db_setting(db)
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


# ``scheme://user:`` and the password after it, to the last @ (a password may hold / or @ as
# typed; masking a database name or query that holds an @ too hides more than needed, never less)
_USERINFO_PASSWORD = re.compile(r"^([^:/?#]+://[^:/?#@]*:)(.*)@", re.S)
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&]*)", re.I)  # libpq also takes ?password=…
MASK = "***"
MIN_SCRUBBED = 3  # shorter fragments are not looked for in free text (they would mangle words)


def mask_url(url: str) -> str:
    """A database URL with its password (in the user part or a ``password=`` query) as ``***``."""
    return _QUERY_PASSWORD.sub(rf"\1{MASK}", _USERINFO_PASSWORD.sub(rf"\1{MASK}@", url, count=1))


def url_secrets(url: str | None) -> list[str]:
    """Every form in which the password of ``url`` could be printed: as written, percent-decoded,
    percent-encoded again (as SQLAlchemy renders a URL), and as SQLAlchemy splits a raw @ in it;
    longest first, for ``scrub``."""
    from urllib.parse import quote, quote_plus, unquote, unquote_plus

    if not url or "://" not in url:
        return []
    found: set[str] = set()
    m = _USERINFO_PASSWORD.match(url)
    written = [m.group(2)] if m else []
    written += [q.group(2) for q in _QUERY_PASSWORD.finditer(url)]
    for raw in written:
        for form in (raw, unquote(raw), unquote_plus(raw)):
            found.update((form, quote(form, safe=""), quote_plus(form, safe=""), quote(form)))
            found.update(form.split("@"))  # SQLAlchemy ends the password at the first @
    return sorted((s for s in found if s and s != MASK), key=len, reverse=True)


def scrub(text: str, *urls: str | None) -> str:
    """``text`` (an error, a log line) with any password of ``urls`` as ``***``; the URLs themselves
    masked wherever they appear whole."""
    for url in urls:
        if not url or "://" not in url:
            continue
        text = text.replace(url, mask_url(url))
        for secret in url_secrets(url):
            if len(secret) >= MIN_SCRUBBED:
                text = text.replace(secret, MASK)
    return text


def shown_db(url: str) -> str:
    """How a database is named on screen before SQLAlchemy is imported: a SQLite file by its
    path, a server URL with its password as ``***`` (as engine.store.db.safe_url shows it)."""
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///"):]
    return mask_url(url)


def data_dir() -> Path:
    """The catalog's data folder as configured (engine.data.catalog checks that it exists)."""
    return Path(os.environ.get(DATA_ENV, DEFAULT_DATA_DIR)).expanduser()


def cache_root() -> Path:
    """Where derived data (converted datasets, tokenised splits) is kept between runs."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR).expanduser().resolve()


def artifacts_root(db_url: str) -> Path:
    """Where runs write checkpoints and logs: $XLTUI_ARTIFACTS, else beside the SQLite file."""
    if os.environ.get(ARTIFACTS_ENV):
        return Path(os.environ[ARTIFACTS_ENV]).expanduser().resolve()
    if db_url.startswith("sqlite:///"):
        return Path(db_url[len("sqlite:///"):]).parent / ARTIFACTS_DIR
    return Path.cwd() / ARTIFACTS_DIR


def disk_pause_s() -> float:
    """How long a worker waits before it looks again at a full disk (``$XLTUI_DISK_PAUSE`` seconds)."""
    text = os.environ.get(DISK_PAUSE_ENV, "").strip()
    try:
        return max(0.05, float(text)) if text else DEFAULT_DISK_PAUSE_S
    except ValueError:
        raise ValueError(f"{DISK_PAUSE_ENV}: expected seconds, got {text!r}") from None


def grad_accumulation() -> int:
    """Micro-batches per optimizer step for this run process (the worker sets it after an out-of-memory)."""
    return max(1, int(os.environ.get(GRAD_ACCUMULATION_ENV) or 1))


def cpu_cores() -> int | None:
    """The cores this run's worker shares among its CPU runs (``$XLTUI_CPU_CORES``); None: not a CPU
    run of a worker with several CPU slots (a GPU run, ``--cpu-slots 1``, a run started by hand),
    which keeps the thread count it started with."""
    text = os.environ.get(CPU_CORES_ENV, "").strip()
    return max(1, int(text)) if text.isdigit() else None


def simulated_cpu_others() -> float | None:
    """Cores a CPU run takes as busy with other processes instead of measuring them
    (``$XLTUI_TEST_CPU_OTHERS``; tests that must not depend on the machine's load)."""
    text = os.environ.get(TEST_CPU_OTHERS_ENV, "").strip()
    return float(text) if text else None


def simulated_signal() -> tuple[str, int, str, str] | None:
    """(where, N, signal name, whom: ``run`` or ``worker``) from ``$XLTUI_TEST_SIGNAL_AT``
    (``step:3:TERM``, ``step:1:TERM:worker``: tests that stop a run, or its worker, at an exact point)."""
    text = os.environ.get(TEST_SIGNAL_ENV, "").strip()
    if not text:
        return None
    where, n, name, *whom = text.split(":")
    return where, int(n), name.upper(), (whom or ["run"])[0]


def simulated_hold() -> tuple[str, int, str] | None:
    """(where, N, file) from ``$XLTUI_TEST_HOLD_AT`` (``step:1:/tmp/go``): a run waits at that point until
    the file exists or it is asked to stop (tests that act on a run while it runs, whatever its speed)."""
    text = os.environ.get(TEST_HOLD_ENV, "").strip()
    if not text:
        return None
    where, n, path = (text.split(":", 2) + ["", ""])[:3]
    if not n.isdigit() or not path:
        raise ValueError(f"{TEST_HOLD_ENV}: expected where:N:file (step:1:/tmp/go), got {text!r}")
    return where, int(n), path


def simulated_oom_above() -> int | None:
    """The largest micro-batch a simulated GPU holds (``$XLTUI_TEST_OOM_ABOVE``; tests of the OOM path)."""
    text = os.environ.get(TEST_OOM_ENV)
    return int(text) if text else None


@dataclass(frozen=True)
class Cadence:
    """How often a run saves its training state: every ``steps`` optimizer steps or every ``seconds``
    of wall time (neither: only when it is asked to stop)."""

    steps: int | None = None
    seconds: float | None = None

    def __str__(self) -> str:
        if self.steps is not None:
            return f"every {self.steps} steps"
        return f"every {self.seconds:g}s" if self.seconds is not None else "only on a stop"


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_cadence(text: str, what: str = CHECKPOINT_EVERY_ENV) -> Cadence:
    """``500`` (optimizer steps), ``90s``/``15m``/``1h`` (wall time), ``0``/``off`` (only on a stop);
    anything else is a ValueError naming ``what`` and the forms it takes."""
    value = text.strip().lower()
    if value in ("0", "off", "never", "no"):
        return Cadence()
    if value.isdigit():
        return Cadence(steps=int(value))
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smh])", value)
    if match and float(match.group(1)) > 0:
        return Cadence(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    raise ValueError(f"{what}: {text!r} is not a checkpoint cadence: give optimizer steps (500), a duration "
                     "(90s, 15m, 1h) or 0 (save only when the run is asked to stop)")


def checkpoint_every() -> Cadence:
    """The cadence of periodic state saves for this run (``$XLTUI_CHECKPOINT_EVERY``, default 15m)."""
    return parse_cadence(os.environ.get(CHECKPOINT_EVERY_ENV) or DEFAULT_CHECKPOINT_EVERY)


def keep_state() -> bool:
    """Whether a run that succeeded keeps its training state (``$XLTUI_KEEP_STATE``)."""
    return os.environ.get(KEEP_STATE_ENV, "0").strip().lower() in ("1", "true", "yes", "on")


def warm_runs() -> bool:
    """Whether workers fork runs from a warm launcher (on unless XLTUI_WARM says 0/false/no/off)."""
    return os.environ.get(WARM_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def hub_offline(names: tuple[str, ...] = HUB_OFFLINE_ENVS) -> bool:
    """Whether Hugging Face was told to stay offline (so no minute of retries is spent on the hub)."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "on", "yes", "true") for v in names)
