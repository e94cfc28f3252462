"""What a run continues from: looked up in the database (its inputs) and on disk (its saved state).

Every trainer is called the same way, ``trainer(spec, files, writer, device, inputs)``
(``Trainer`` below; each also takes an optional ``log``), so the run process picks one
from a table (engine.training.trainers) instead of asking what kind of spec it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.runfiles import RunFiles
    from engine.spec import LangAdapterSpec, RunSpec
    from engine.store.results import RunOutput
    from engine.store.telemetry import MetricWriter
    from engine.training.resume import StateStore


@dataclass(frozen=True)
class RunInputs:
    """Artifacts of the runs this one depends on (all succeeded before it was claimed)."""

    lang_adapters: dict[str, str] = field(default_factory=dict)  # language -> adapter folder
    parent: str | None = None  # few-shot: the zero-shot run's checkpoint (full) or task adapter (other methods)
    state: StateStore | None = None  # the run's saved training states (the run process's; None: nothing resumes)


NO_INPUTS = RunInputs()
PARENT_ARTIFACT = {"madx": "task_adapter", "adapter": "task_adapter", "full": "checkpoint"}  # what a few-shot run continues from

Trainer = Callable[["RunSpec | LangAdapterSpec", "RunFiles", "MetricWriter | None", str, RunInputs], "RunOutput"]
