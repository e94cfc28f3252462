"""Every file of one run attempt, named in one place (as submitit's ``JobPaths`` names a job's).

The worker creates the attempt's folder and its log; the trainers write the rest
into it; the store records them as artifacts. Nobody else spells a file name, so
a report, a test or a later session finds a run's predictions where the trainer
put them. Paths only, nothing is created here; ``disk_full`` reads how much space is left.

    <artifacts>/run-<id>-<spec hash>/attempt-<n>/
        run.log                       what the run process printed (the worker's copy of its stdout/stderr)
        predictions-dev.txt           source dev predictions (CoNLL: word, gold, predicted)
        predictions-<lang>-test.txt   each target's test predictions
        predictions-...-confusion.json  POS: gold tag -> predicted tag -> count
        checkpoint/                   full fine-tuning: model + tokenizer (what few-shot runs continue)
        task_adapter/                 MAD-X: the task adapter and its head
        adapter/                      a language-adapter run's adapter
        run_info.json                 what exactly ran: data files and hashes, precision, versions
        fewshot_ids.json              a few-shot run's K training ids and its evaluation ids
    <artifacts>/run-<id>-<spec hash>/state-<owner>/  the run's saved training state and best weights,
                                      shared by its attempts (engine.training.resume); removed once it succeeds
    <artifacts>/workers/worker-*.log  detached workers' own logs
"""

from __future__ import annotations

import errno
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

ERROR_PREFIX = "xltui-run-error: "  # the run process's one-line error in run.log, which the worker quotes
DISK_FULL_EXIT = 75  # a run process's exit status when it could not write for a full disk (EX_TEMPFAIL)
DISK_FULL_PREFIX = "disk full: "
ORPHAN_EXIT = 3  # a run process's exit status when its worker (or launcher) went away: nobody waits for its result
OOM_EXIT = 76  # a run process's exit status after a CUDA out-of-memory it can retry with smaller micro-batches
LOW_SPACE_BYTES = 1 << 20  # less free space than this under a run's folder counts as a full disk
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


@dataclass(frozen=True)
class RunFiles:
    """The files of one attempt, under ``folder``."""

    folder: Path

    @classmethod
    def of(cls, artifacts: Path, run_id: int, spec_hash: str, attempt: int) -> RunFiles:
        """Where attempt ``attempt`` (1, 2, ...) of run ``run_id`` keeps its files."""
        return cls(artifacts / f"run-{run_id}-{spec_hash}" / f"attempt-{attempt}")

    @property
    def log(self) -> Path:
        return self.folder / "run.log"

    def predictions(self, split: str, lang: str | None = None) -> Path:
        """``predictions-dev.txt`` (the pooled source dev set) or ``predictions-<lang>-test.txt``."""
        return self.folder / (f"predictions-{lang}-{split}.txt" if lang else f"predictions-{split}.txt")

    @staticmethod
    def confusion_of(predictions: Path) -> Path:
        """The confusion matrix written beside a predictions file (POS)."""
        return predictions.with_name(predictions.stem + "-confusion.json")

    @property
    def checkpoint(self) -> Path:
        return self.folder / "checkpoint"

    @property
    def task_adapter(self) -> Path:
        return self.folder / "task_adapter"

    @property
    def lang_adapter(self) -> Path:
        return self.folder / "adapter"

    def state(self, owner: str) -> Path:
        """The run's saved training state: one folder for all its attempts, beside theirs, named for
        ``owner`` (which database's run: two databases sharing an artifacts folder have runs of the
        same number and spec, whose states must not meet)."""
        return self.folder.parent / f"state-{hashlib.sha256(owner.encode()).hexdigest()[:8]}"

    @property
    def run_info(self) -> Path:
        return self.folder / "run_info.json"

    @property
    def fewshot_ids(self) -> Path:
        return self.folder / "fewshot_ids.json"


def worker_logs(artifacts: Path) -> Path:
    """The folder of detached workers' logs."""
    return artifacts / "workers"


def last_error(log_tail: str) -> str | None:
    """The run process's own one-line error (after ERROR_PREFIX) in the end of its log, if it wrote one."""
    return next((line[len(ERROR_PREFIX):] for line in reversed(log_tail.splitlines())
                 if line.startswith(ERROR_PREFIX)), None)


def free_bytes(folder: Path) -> int | None:
    """Space left to an unprivileged writer on ``folder``'s filesystem (its nearest existing parent)."""
    for path in (folder, *folder.parents):
        try:
            st = os.statvfs(path)
        except FileNotFoundError:
            continue
        except OSError:
            return None  # e.g. a stale network mount: unknown, so never called full
        return st.f_bavail * st.f_frsize
    return None


def disk_full(exc: BaseException | None, folder: Path) -> str | None:
    """``disk full: cannot write PATH (…)`` when ``exc`` (or what caused it) is a full disk, else None.

    An OSError names its errno (ENOSPC, EDQUOT) and mostly its file. Writers that do not
    raise OSError (torch.save: "file write failed"; safetensors) are told apart by the
    space left under ``folder``; so is a run process whose exception never reached us.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            where = exc.filename or f"under {folder}"
            return f"{DISK_FULL_PREFIX}cannot write {where} ({os.strerror(exc.errno)})"
        exc = exc.__cause__ or exc.__context__
    free = free_bytes(folder)
    if free is not None and free < LOW_SPACE_BYTES:
        newest = _newest_file(folder)  # its folder: the file cut short may have been removed by its writer
        return f"{DISK_FULL_PREFIX}cannot write under {folder if newest is None else newest.parent} " \
               f"({free // 1024} KiB free)"
    return None


def _newest_file(folder: Path) -> Path | None:
    """The file written last under ``folder``: beside the one a full disk cut short, when the writer did not say."""
    try:
        files = [(p.stat().st_mtime_ns, p) for p in folder.rglob("*") if p.is_file()]
    except OSError:
        return None
    return max(files)[1] if files else None
