"""Writing a file so that a kill or a full disk never leaves half of it in its place.

Under a temporary name beside it, flushed to disk, then renamed (POSIX rename is atomic);
the bytes hashed as they are written (torch.save writes in pieces), so a checksum costs
no second read. engine.training.resume writes every state and manifest through here.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable

_CHUNK = 1 << 22


class HashingWriter:
    """A file that hashes what is written through it (torch.save writes in pieces)."""

    def __init__(self, fh):
        self.fh, self.sha, self.size = fh, hashlib.sha256(), 0

    def write(self, data) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.fh.write(data)

    def flush(self) -> None:
        self.fh.flush()


def sha256_of(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, write: Callable[[Any], None]) -> None:
    """``write(fh)`` into a temporary file beside ``path``, flushed to disk, then renamed to ``path``."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        cause = _unnamed_os_error(exc)
        if cause is not None:  # written through torch.save: name the file (a full disk cut it short)
            raise OSError(cause.errno, cause.strerror, str(path)) from exc
        raise


def _unnamed_os_error(exc: BaseException) -> OSError | None:
    """The OSError without a file name behind ``exc`` (torch.save raises its own error on top of it)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.filename is None:
            return current
        current = current.__cause__ or current.__context__
    return None
