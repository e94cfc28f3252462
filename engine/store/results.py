"""What a finished run hands back, and how it is stored in one transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from engine.spec import RunStatus
from engine.store.clock import db_now
from engine.store.schema import Artifact, Attempt, Result, Run


@dataclass
class RunOutput:
    results: list[tuple[str, str, str, float]] = field(default_factory=list)  # (language, split, metric, value)
    artifacts: list[tuple[str, str, str | None]] = field(default_factory=list)  # (kind, path, language)

    def add_scores(self, language: str, split: str, scores: dict[str, float]) -> None:
        self.results.extend((language, split, name, float(value)) for name, value in scores.items())


def file_sha256(path: Path) -> str | None:
    """Content hash of a file, or of a directory's files (names and bytes, in sorted order)."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    if not files:
        return None
    digest = hashlib.sha256()
    for f in files:
        if path.is_dir():
            digest.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def record_output(engine: Engine, run_id: int, attempt_id: int, worker_id: str, output: RunOutput) -> bool:
    """Store results and artifacts and mark the run succeeded, atomically, if ``attempt_id`` is
    still the run's running attempt, by this worker.

    Results are kept if the run was cancelled during this attempt (nothing computed is thrown
    away; the status stays cancelled). An attempt the run has left otherwise — ended by its
    worker, lost by lease expiry, the run re-queued and perhaps claimed again by the same worker
    slot (whose id is the same) — stores nothing: its process outlived the attempt (orphaned
    when its warm launcher or its worker died), and its results would compete with those of
    the attempt that now has the run.
    """
    hashes = [file_sha256(Path(path)) for _kind, path, _lang in output.artifacts]  # before the write lock is held
    mine = (Run.id == run_id, Run.attempt_id == attempt_id)
    with engine.begin() as conn:
        now = db_now(conn)
        won = conn.execute(  # first, so this transaction holds the write lock (SQLite) / the run's row from here on
            update(Run).where(*mine, Run.worker_id == worker_id, Run.status == RunStatus.RUNNING)
            .values(status=RunStatus.SUCCEEDED, finished_at=now, error=None, lease_expires_at=None)
        ).rowcount == 1
        if not won and conn.execute(select(Run.id).where(*mine, Run.status == RunStatus.CANCELLED)).first() is None:
            return False  # the run was taken from this attempt (or claimed again): nothing of it is stored
        if output.results:
            conn.execute(insert(Result), [
                dict(run_id=run_id, attempt_id=attempt_id, language=lang, split=split, metric=metric, value=value)
                for lang, split, metric, value in output.results
            ])
        if output.artifacts:
            conn.execute(insert(Artifact), [
                dict(run_id=run_id, attempt_id=attempt_id, kind=kind, path=str(path), language=lang,
                     sha256=digest, created_at=now)
                for (kind, path, lang), digest in zip(output.artifacts, hashes)
            ])
        if won:
            conn.execute(update(Attempt).where(Attempt.id == attempt_id).values(outcome=RunStatus.SUCCEEDED, finished_at=now))
    return won


def add_train_scores(engine: Engine, run_id: int, attempt_id: int, scores: dict[str, float]) -> bool:
    """Add what the worker measured about a succeeded run (how many runs shared its GPU) to its
    train scores, beside what the run measured itself; False where the run has moved on."""
    with engine.begin() as conn:
        current = conn.execute(select(Run.id).where(Run.id == run_id, Run.attempt_id == attempt_id,
                                                    Run.status == RunStatus.SUCCEEDED)).first()
        if current is None:
            return False
        rows = conn.execute(select(Result.language, Result.metric).where(
            Result.attempt_id == attempt_id, Result.split == "train")).all()
        language = rows[0][0] if rows else ""
        have = {metric for _lang, metric in rows}
        new = [dict(run_id=run_id, attempt_id=attempt_id, language=language, split="train", metric=m, value=float(v))
               for m, v in scores.items() if m not in have]
        if new:
            conn.execute(insert(Result), new)
    return True
