"""Is this SQLite file safe for the way it is used? One machine, a local disk.

SQLite's locks (and WAL's shared memory) work between processes of one host on a
local filesystem. On NFS, CIFS, Lustre or GPFS (where a cluster's home directories
live), or opened from several hosts at once, concurrent writers corrupt it. Both are
detected here, from ``/proc/self/mounts`` and from the hosts in the workers table,
so a user is told to use PostgreSQL before a study is lost, not after.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import Engine

from engine.store.queries import live_workers

# filesystem types (as /proc/mounts names them) on which SQLite's locking cannot be trusted
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "beegfs", "fuse.beegfs", "ceph", "fuse.ceph",
    "glusterfs", "fuse.glusterfs", "fuse.sshfs", "9p", "afs", "panfs", "wekafs", "fuse.juicefs", "fuse.s3fs",
    "orangefs", "pvfs2", "ocfs2", "gfs2",
})
POSTGRES_HINT = "use PostgreSQL for workers on several machines (--db postgresql+psycopg://USER@HOST/DB)"


class SharedSqliteError(RuntimeError):
    """SQLite used from several hosts at once: refused, it would corrupt."""


def _unescape(field: str) -> str:
    """/proc/mounts writes spaces and tabs in mount points as octal escapes."""
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def filesystem_type(path: Path, mounts: str | None = None) -> str | None:
    """The type of the filesystem holding ``path`` (the longest mount point above it), or None."""
    if mounts is None:
        try:
            mounts = Path("/proc/self/mounts").read_text()
        except OSError:  # not Linux: nothing to go on
            return None
    target = os.path.realpath(path)
    best: tuple[int, str] | None = None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point, fstype = _unescape(fields[1]), fields[2]
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= best[0]):
            best = (len(point), fstype)
    return best[1] if best else None


def network_filesystem_warning(path: Path, mounts: str | None = None) -> str | None:
    """A warning when the SQLite file lives on a network or cluster filesystem."""
    fstype = filesystem_type(path.parent if not path.exists() else path, mounts)
    if fstype is None or fstype not in NETWORK_FILESYSTEMS:
        return None
    return (f"{path} is on a {fstype} filesystem: SQLite's locks do not hold there and concurrent writers "
            f"corrupt the database; keep it on a local disk, or {POSTGRES_HINT}")


def check_single_host(engine: Engine, path: Path, host: str) -> None:
    """Refuse a worker on ``host`` while workers on other hosts are live on the same SQLite file."""
    others = sorted({w.host for w in live_workers(engine) if w.host != host})
    if others:
        raise SharedSqliteError(
            f"{path} is already used by workers on {', '.join(others)}; a SQLite file written from several "
            f"machines corrupts. Stop those workers, or {POSTGRES_HINT}")
