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

import json
import re
import shutil
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from engine.settings import Cadence
from engine.training.state_files import HashingWriter, fsync_dir, sha256_of, write_atomic

if TYPE_CHECKING:
    import torch

FORMAT = 1  # bump when a saved state's layout changes: older states are then refused, not misread
_STATE = re.compile(r"state-(\d+)\.json")


class StateStore:
    """The saved states and best weights of one run (``folder``), for a spec (``spec_hash``)."""

    def __init__(self, folder: Path, spec_hash: str, cadence: Cadence = Cadence(), log: Callable[[str], None] = print,
                 scratch: bool = False, owner: str = ""):
        self.folder, self.spec_hash, self.cadence, self.log = folder, spec_hash, cadence, log
        self.owner = owner  # which run of which database (two databases may share an artifacts folder)
        self.scratch = scratch  # a throw-away folder (no run to resume): removed with ``clear``
        self.saved_step: int | None = None  # the step of the newest state on disk
        self.saved_best: str | None = None  # the best weights the newest state refers to
        self.saves: list[float] = []  # seconds each save took to write (bench/resume.py reports them)
        self.stalls: list[float] = []  # seconds each save held the loop up (a background save: its copy)
        self._requested: int | None = None  # the step of the latest save asked for (written or being written)
        self._requested_at = time.monotonic()
        self._pending: Future | None = None  # a background save being written
        self._writer: ThreadPoolExecutor | None = None
        self.on_resume: Callable[[int], None] | None = None  # told the step a loop resumed at (the run process)
        self.on_save: list[Callable[[int], None]] = []  # each told the step of every state on disk

    @classmethod
    def temporary(cls, log: Callable[[str], None] = print) -> StateStore:
        """A store for a loop with no run behind it (tests, benchmarks): best weights still go to
        disk, nothing is saved periodically, and nothing is resumed."""
        return cls(Path(tempfile.mkdtemp(prefix="xltui-state-")), "", Cadence(), log, scratch=True)

    # -- when -------------------------------------------------------------------------------
    def due(self, step: int) -> bool:
        """A periodic save is due after optimizer step ``step``."""
        if self.cadence.steps is not None:
            return step - (self._requested or self.saved_step or 0) >= self.cadence.steps
        if self.cadence.seconds is not None:
            return time.monotonic() - self._requested_at >= self.cadence.seconds
        return False

    # -- writing ----------------------------------------------------------------------------
    def _write(self, stem: str, payload: dict[str, Any], meta: dict[str, Any]) -> None:
        """``<stem>.pt`` and its manifest ``<stem>.json``, each written atomically (payload first)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        sums: dict[str, Any] = {}

        import torch  # here, not at import: the run process reads its spec before it pays for torch

        def save(fh) -> None:
            writer = HashingWriter(fh)
            torch.save(payload, writer)
            sums.update(sha256=writer.sha.hexdigest(), bytes=writer.size)

        write_atomic(self.folder / f"{stem}.pt", save)
        manifest = dict(format=FORMAT, spec_hash=self.spec_hash, owner=self.owner, file=f"{stem}.pt", saved_at=time.time(),
                        torch=torch.__version__, **sums, **meta)
        write_atomic(self.folder / f"{stem}.json", lambda fh: fh.write(json.dumps(manifest, indent=1).encode()))
        fsync_dir(self.folder)

    def save(self, step: int, payload: dict[str, Any], best_file: str | None, background: bool = False) -> None:
        """The training state at ``step``; then every older state and unreferenced best file goes.

        ``background`` (a periodic save): the payload is copied to host memory and written by a
        thread while training goes on, so the loop waits for the copy, not the disk (an XLM-R-base
        state is 3.3 GB: seconds to tens of seconds on a slow disk). A save that must be on disk
        before the run goes on (a stop, the end) is not. Only one is written at a time: a save, a
        best-weights write and ``wait`` first wait for the one being written, and raise its error
        (a full disk) there.
        """
        started = time.perf_counter()
        self.wait()
        self._requested, self._requested_at = step, time.monotonic()
        if not background:
            self._save_now(step, payload, best_file)
            self.stalls.append(time.perf_counter() - started)
            return
        copied = host_copy(payload)
        self.stalls.append(time.perf_counter() - started)
        self._writer = self._writer or ThreadPoolExecutor(1, thread_name_prefix="state-writer")
        self._pending = self._writer.submit(self._save_now, step, copied, best_file)

    def _save_now(self, step: int, payload: dict[str, Any], best_file: str | None) -> None:
        started = time.perf_counter()
        self._write(f"state-{step:09d}", payload, dict(step=step, best=best_file))
        self.saved_step, self.saved_best = step, best_file
        self.saves.append(time.perf_counter() - started)
        self._prune(keep_state=step, keep_best=best_file)
        for listener in self.on_save:
            listener(step)

    def wait(self) -> None:
        """Until the state being written in the background is on disk; its error, if it failed."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def save_best(self, step: int, weights: dict[str, torch.Tensor]) -> str:
        """Early stopping's best weights at ``step``; returns the name a state refers to them by."""
        stem = f"best-{step:09d}"
        self.wait()  # never beside a background save: it removes the best weights its state does not name
        self._write(stem, weights, dict(step=step))
        self._prune_best(f"{stem}.pt", self.saved_best)  # the newest state's stay until a newer state
        return f"{stem}.pt"

    def _prune(self, keep_state: int | None, keep_best: str | None) -> None:
        """Remove every state but ``keep_state``'s, every best-weights file but ``keep_best``."""
        for manifest in self.folder.glob("state-*.json"):
            match = _STATE.fullmatch(manifest.name)
            if match and int(match.group(1)) != keep_state:
                self._remove(manifest.with_suffix(".pt"), manifest)
        self._prune_best(keep_best)

    def _prune_best(self, *keep: str | None) -> None:
        for best in self.folder.glob("best-*.pt"):
            if best.name not in keep:
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
        if sha256_of(path) != manifest.get("sha256"):
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
        self.wait()
        if self._writer is not None:
            self._writer.shutdown()
        shutil.rmtree(self.folder, ignore_errors=True)


def host_copy(value: Any) -> Any:
    """``value`` with every tensor copied to host memory (a background save must not see the weights
    and moments the next steps change in place)."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: host_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(host_copy(v) for v in value)
    return value
