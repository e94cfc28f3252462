"""A run's saved training state on disk: written safely, checked before it is trusted.

One folder per run, shared by its attempts (``RunFiles.state``, under ``XLTUI_ARTIFACTS``,
so any host that claims the run again finds it):

    state/
      state-<step>.pt    the training state at an optimizer step (engine.training.train_state)
      state-<step>.json  its manifest: format, the run's spec hash, step, size and sha256
      best-<step>.pt     early stopping's best weights so far (only what trains), + .json

Every file is written under a temporary name, flushed to disk and renamed into place, so
a kill or a full disk during a save leaves the previous state whole; only then are the
older files removed. A state is loaded only if its manifest is readable, its format is
this xltui's, it was written for this run's spec and its bytes match the checksum; else
the log says why, the file is removed, and the next older state (or step 0) is used:
never a crash loop on a bad file. Loading never unpickles code (``weights_only``).
The cadence of periodic saves (``engine.settings.checkpoint_every``) is the store's, not
the run's identity: it changes where a run may stop, not what it computes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from engine.settings import Cadence

if TYPE_CHECKING:
    import torch

FORMAT = 1  # bump when a saved state's layout changes: older states are then refused, not misread
_STATE = re.compile(r"state-(\d+)\.json")
_CHUNK = 1 << 22


class _HashingWriter:
    """A file that hashes what is written through it (torch.save writes in pieces)."""

    def __init__(self, fh):
        self.fh, self.sha, self.size = fh, hashlib.sha256(), 0

    def write(self, data) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.fh.write(data)

    def flush(self) -> None:
        self.fh.flush()


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, write: Callable[[Any], None]) -> None:
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


class StateStore:
    """The saved states and best weights of one run (``folder``), for a spec (``spec_hash``)."""

    def __init__(self, folder: Path, spec_hash: str, cadence: Cadence = Cadence(), log: Callable[[str], None] = print,
                 scratch: bool = False, owner: str = ""):
        self.folder, self.spec_hash, self.cadence, self.log = folder, spec_hash, cadence, log
        self.owner = owner  # which run of which database (two databases may share an artifacts folder)
        self.scratch = scratch  # a throw-away folder (no run to resume): removed with ``clear``
        self.saved_step: int | None = None  # the step of the newest state on disk
        self.saved_at = time.monotonic()
        self.saved_best: str | None = None  # the best weights the newest state refers to
        self.saves: list[float] = []  # seconds each save took (bench/resume.py reports them)
        self.on_resume: Callable[[int], None] | None = None  # told the step a loop resumed at (the run process)
        self.on_save: Callable[[int], None] | None = None  # told the step of each state saved

    @classmethod
    def temporary(cls, log: Callable[[str], None] = print) -> StateStore:
        """A store for a loop with no run behind it (tests, benchmarks): best weights still go to
        disk, nothing is saved periodically, and nothing is resumed."""
        return cls(Path(tempfile.mkdtemp(prefix="xltui-state-")), "", Cadence(), log, scratch=True)

    # -- when -------------------------------------------------------------------------------
    def due(self, step: int) -> bool:
        """A periodic save is due after optimizer step ``step``."""
        if self.cadence.steps is not None:
            return step - (self.saved_step or 0) >= self.cadence.steps
        if self.cadence.seconds is not None:
            return time.monotonic() - self.saved_at >= self.cadence.seconds
        return False

    # -- writing ----------------------------------------------------------------------------
    def _write(self, stem: str, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        """``<stem>.pt`` and its manifest ``<stem>.json``, each written atomically (payload first)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        sums: dict[str, Any] = {}

        import torch  # here, not at import: the run process reads its spec before it pays for torch

        def save(fh) -> None:
            writer = _HashingWriter(fh)
            torch.save(payload, writer)
            sums.update(sha256=writer.sha.hexdigest(), bytes=writer.size)

        _write_atomic(self.folder / f"{stem}.pt", save)
        manifest = dict(format=FORMAT, spec_hash=self.spec_hash, owner=self.owner, file=f"{stem}.pt", saved_at=time.time(),
                        torch=torch.__version__, **sums, **meta)
        _write_atomic(self.folder / f"{stem}.json", lambda fh: fh.write(json.dumps(manifest, indent=1).encode()))
        _fsync_dir(self.folder)

    def save(self, step: int, payload: dict[str, Any], best_file: str | None) -> None:
        """The training state at ``step``; then every older state and unreferenced best file goes."""
        started = time.perf_counter()
        self._write(f"state-{step:09d}", payload, dict(step=step, best=best_file))
        self.saved_step, self.saved_at, self.saved_best = step, time.monotonic(), best_file
        self.saves.append(time.perf_counter() - started)
        self._prune(keep_state=step, keep_best=best_file)
        if self.on_save is not None:
            self.on_save(step)

    def save_best(self, step: int, weights: dict[str, torch.Tensor]) -> str:
        """Early stopping's best weights at ``step``; returns the name a state refers to them by."""
        stem = f"best-{step:09d}"
        self._write(stem, weights, dict(step=step))
        for older in self.folder.glob("best-*.pt"):  # all but this one and the newest state's
            if older.name not in (f"{stem}.pt", self.saved_best):
                self._remove(older, older.with_suffix(".json"))
        return f"{stem}.pt"

    def _prune(self, keep_state: int | None, keep_best: str | None) -> None:
        """Remove every state but ``keep_state``'s, every best-weights file but ``keep_best``."""
        for manifest in self.folder.glob("state-*.json"):
            match = _STATE.fullmatch(manifest.name)
            if match and int(match.group(1)) != keep_state:
                self._remove(manifest.with_suffix(".pt"), manifest)
        for best in self.folder.glob("best-*.pt"):
            if best.name != keep_best:
                self._remove(best, best.with_suffix(".json"))

    @staticmethod
    def _remove(*paths: Path) -> None:
        for path in paths:
            path.unlink(missing_ok=True)

    # -- reading ----------------------------------------------------------------------------
    def _check(self, manifest_path: Path, kind: str) -> tuple[dict[str, Any] | None, str]:
        """(the manifest, "") if its file may be loaded, else (None, why not)."""
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as exc:
            return None, f"its manifest {manifest_path.name} is unreadable ({exc.__class__.__name__})"
        if manifest.get("format") != FORMAT:
            return None, f"it was written in state format {manifest.get('format')}, this xltui reads {FORMAT}"
        if manifest.get("spec_hash") != self.spec_hash:
            return None, f"it was written for another spec ({manifest.get('spec_hash')}, this run is {self.spec_hash})"
        if manifest.get("owner", "") != self.owner:
            return None, (f"it was written by another database's run ({manifest.get('owner')}; this is {self.owner}): "
                          "give each database its own XLTUI_ARTIFACTS")
        path = self.folder / str(manifest.get("file"))
        try:
            size = path.stat().st_size
        except OSError:
            return None, f"{kind} file {path.name} is missing"
        if size != manifest.get("bytes"):
            return None, f"{path.name} is {size} bytes, {manifest.get('bytes')} were written (truncated?)"
        if _sha256(path) != manifest.get("sha256"):
            return None, f"{path.name} does not match its checksum (corrupted)"
        return manifest, ""

    def _load(self, manifest: dict[str, Any]) -> dict[str, Any]:
        import torch

        return torch.load(self.folder / manifest["file"], map_location="cpu", weights_only=True)

    def latest(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(manifest, payload) of the newest state that passes every check; None: start at step 0.
        A state that does not is removed, and the log says why."""
        if self.scratch or not self.folder.is_dir():
            return None
        found = sorted(((int(m.group(1)), p) for p in self.folder.glob("state-*.json")
                        if (m := _STATE.fullmatch(p.name))), reverse=True)
        for step, manifest_path in found:
            manifest, why = self._check(manifest_path, "state")
            if manifest is not None and manifest.get("best") is not None:
                best, why = self._check(self.folder / Path(manifest["best"]).with_suffix(".json"), "best-weights")
                manifest = manifest if best is not None else None
            if manifest is not None:
                try:
                    payload = self._load(manifest)
                except Exception as exc:  # a file that passed its checksum but does not load: say so, go on
                    why = f"it does not load ({exc.__class__.__name__}: {' '.join(str(exc).split())[:200]})"
                else:
                    self.saved_step, self.saved_best = step, manifest.get("best")
                    self._prune(keep_state=step, keep_best=manifest.get("best"))
                    return manifest, payload
            self.log(f"saved state at step {step} not used: {why}")
            self._remove(manifest_path.with_suffix(".pt"), manifest_path)
        self._prune(keep_state=None, keep_best=None)  # best weights of states that are gone
        return None

    def load_best(self, name: str) -> dict[str, torch.Tensor]:
        manifest, why = self._check(self.folder / Path(name).with_suffix(".json"), "best-weights")
        if manifest is None:
            raise RuntimeError(f"best weights {self.folder / name} cannot be used: {why}")
        return self._load(manifest)

    def clear(self) -> None:
        """Remove every saved state and best weights (the run succeeded; a scratch store is done)."""
        shutil.rmtree(self.folder, ignore_errors=True)
