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
HF_HUB_OFFLINE,    unset                       Hugging Face's own switches, honoured even when set
HF_DATASETS_OFFL.                              after huggingface_hub was imported
=================  ==========================  ==============================================
"""

from __future__ import annotations

import os
import re
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


def shown_db(url: str) -> str:
    """How a database is named on screen before SQLAlchemy is imported: a SQLite file by its
    path, a server URL with its password as ``***`` (as engine.store.db.safe_url shows it)."""
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///"):]
    return re.sub(r"^([^:/]+://[^:/@]*:)[^/]*@", r"\1***@", url)  # to the last @ before the host


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


def warm_runs() -> bool:
    """Whether workers fork runs from a warm launcher (on unless XLTUI_WARM says 0/false/no/off)."""
    return os.environ.get(WARM_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def hub_offline(names: tuple[str, ...] = HUB_OFFLINE_ENVS) -> bool:
    """Whether Hugging Face was told to stay offline (so no minute of retries is spent on the hub)."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "on", "yes", "true") for v in names)
