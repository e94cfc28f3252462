"""A study run twice, once interrupted and once not, compared as a reviewer would: the same
scores, the same predictions and weights byte for byte, and the same training curve.

The curve is rebuilt here from the stored points and the attempts' ``resumed_step`` (not
through the app's own merge, which tests/store/test_resumed_series.py checks): the points an
attempt logged after the step the next attempt resumed at are superseded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from engine.store.db import open_db
from engine.store.schema import Attempt, MetricPoint, Result, Run

TIMING = {"train_seconds", "examples_per_s", "tokens_per_s", "mfu", "peak_gpu_bytes", "gpu_runs", "cpu_threads",
          "s_per_step", "peak_rss_bytes"}
CURVES = ("train_loss", "mlm_loss", "dev_score", "lr", "train_ce", "train_align")
COMPARED_FILES = ("predictions", "model.safetensors", "adapter_model.bin", "pytorch_adapter.bin",
                  "pytorch_model_head.bin", "adapters.safetensors", "head.safetensors")


@dataclass
class RunStory:
    """One run as its user sees it at the end."""

    status: str
    scores: dict[tuple[str, str, str], float]
    curves: dict[str, list[tuple[int, float]]]
    files: dict[str, str]  # file under the final attempt's folder -> sha256
    resumed: list[int | None]  # each attempt's resumed_step
    outcomes: list[str | None]


def _curve(points: dict[int, list[tuple[int, float]]], attempts: list[Attempt]) -> list[tuple[int, float]]:
    story: dict[int, float] = {}
    for attempt in attempts:
        if attempt.resumed_step is None:  # never reached its loop: logged nothing
            assert not points.get(attempt.id), attempt
            continue
        story = {s: v for s, v in story.items() if s <= attempt.resumed_step}
        story.update(points.get(attempt.id, []))
    return sorted(story.items())


def _files(folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and any(path.name.startswith(k) or path.name == k for k in COMPARED_FILES):
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def stories(db: str) -> dict[str, RunStory]:
    """Every run of ``db`` by spec hash (the same in both databases)."""
    out = {}
    with Session(open_db(db, create=False)) as s:
        for run in s.exec(select(Run).order_by(Run.id)):
            attempts = list(s.exec(select(Attempt).where(Attempt.run_id == run.id).order_by(Attempt.number)))
            scores = {(r.language, r.split, r.metric): r.value for r in s.exec(
                select(Result).where(Result.attempt_id == run.attempt_id)) if r.metric not in TIMING}
            curves = {}
            for name in CURVES:
                points: dict[int, list[tuple[int, float]]] = {}
                for p in s.exec(select(MetricPoint).where(MetricPoint.run_id == run.id, MetricPoint.name == name)):
                    points.setdefault(p.attempt_id, []).append((p.step, p.value))
                if points:
                    curves[name] = _curve(points, attempts)
            final = Path(attempts[-1].log_path).parent
            out[run.spec_hash] = RunStory(run.status, scores, curves, _files(final),
                                          [a.resumed_step for a in attempts], [a.outcome for a in attempts])
    return out


def differences(interrupted: RunStory, twin: RunStory) -> list[str]:
    """What differs between a run and its uninterrupted twin, in words (empty: nothing)."""
    out = []
    for key in sorted(set(interrupted.scores) | set(twin.scores)):
        a, b = interrupted.scores.get(key), twin.scores.get(key)
        if a != b:
            out.append(f"score {key}: {a} vs {b}")
    for name in sorted(set(interrupted.curves) | set(twin.curves)):
        a, b = interrupted.curves.get(name, []), twin.curves.get(name, [])
        if a != b:
            diff = next((f"step {x[0]}: {x[1]} vs {y[1]}" for x, y in zip(a, b) if x != y), f"{len(a)} vs {len(b)} points")
            out.append(f"curve {name}: {diff}")
    if interrupted.files != twin.files:
        out.append(f"files differ: {sorted(k for k in set(interrupted.files) | set(twin.files) if interrupted.files.get(k) != twin.files.get(k))}")
    return out
