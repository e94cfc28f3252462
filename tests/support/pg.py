"""A throw-away PostgreSQL server for the tests: a real one, started from Debian's binaries.

``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres``
user (``su postgres -c …``); otherwise it runs as whoever runs the tests. The server
listens on 127.0.0.1 (password: scram-sha-256) and on a private socket folder
(trusted, for psql), and is stopped when the session ends. Each test gets its own fresh database.
"""

from __future__ import annotations

import glob
import itertools
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

USER = "xltui"
PASSWORD = "pw-4-tests"  # TCP connections need it (scram-sha-256), so a wrong one is really refused
_counter = itertools.count()


class ServerUnavailable(RuntimeError):
    """The server could not be started here; the message is the daemon's own error."""


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_owner(cmd: list[str], owner: str | None) -> list[str]:
    return ["su", owner, "-s", "/bin/sh", "-c", shlex.join(cmd)] if owner else cmd


@dataclass
class PgServer:
    port: int
    folder: Path
    bin_dir: Path
    owner: str | None

    @property
    def base_url(self) -> str:
        return f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:{self.port}"

    def run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(_as_owner([str(self.bin_dir / cmd[0]), *cmd[1:]], self.owner), capture_output=True,
                              text=True, timeout=120)
        if check and proc.returncode != 0:
            raise ServerUnavailable(f"{cmd[0]} failed: {(proc.stderr or proc.stdout).strip()[-800:]}")
        return proc

    def psql(self, sql: str, database: str = "postgres") -> str:
        proc = subprocess.run(["psql", "-h", str(self.folder), "-p", str(self.port), "-U", USER, "-d", database,
                               "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql], capture_output=True, text=True,
                              timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def new_database(self) -> str:
        """A fresh, empty database; its SQLAlchemy URL."""
        name = f"t{os.getpid()}_{next(_counter)}"
        self.psql(f"CREATE DATABASE {name}")
        return f"{self.base_url}/{name}"

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.folder / "data"), "stop", "-m", "immediate", check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> PgServer:
    """Start a cluster; ServerUnavailable (with the daemon's words) when this machine cannot."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise ServerUnavailable("no PostgreSQL server binaries (initdb) on this machine: apt-get install postgresql")
    owner = "postgres" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="xltui-pg-"))
    if owner:
        shutil.chown(folder, owner)
    server = PgServer(_free_port(), folder, bin_dir, owner)
    pwfile = folder / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if owner:
        shutil.chown(pwfile, owner)
    server.run("initdb", "-D", str(folder / "data"), "--auth-local=trust", "--auth-host=scram-sha-256", "-U", USER,
               f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8")
    options = f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    server.run("pg_ctl", "-D", str(folder / "data"), "-o", options, "-l", str(folder / "log"), "-w", "start")
    deadline = time.monotonic() + 30
    while True:
        try:
            server.psql("SELECT 1")
            return server
        except RuntimeError as exc:
            if time.monotonic() > deadline:
                log = (folder / "log").read_text() if (folder / "log").exists() else ""
                server.stop()
                raise ServerUnavailable(f"server did not accept connections: {exc}; {log[-500:]}") from None
            time.sleep(0.2)
