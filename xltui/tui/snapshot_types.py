"""What the app shows, as plain dataclasses (no Textual, no database): the poll's output."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.states import MAIN_METRIC
from engine.store.queue_reads import LiveWorker, Resume, StudySummary
from xltui.tui.devices import DeviceState

__all__ = ["MAIN_METRIC", "LiveWorker"]  # re-exported: screens take the vocabulary with the snapshot types
CHART_POINTS = 300


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    study_id: int
    study: str
    status: str
    model: str
    method: str
    task: str
    setting: str
    source: str
    targets: str
    seed: int
    device: str
    priority: int
    attempts: int
    started_at: float | None
    finished_at: float | None
    attempt_id: int | None
    error: str  # its first line; the run detail shows all of it
    step: int | None = None
    total_steps: int | None = None
    loss: float | None = None
    score: float | None = None  # final: mean test score over targets; running: latest dev score
    resume: Resume | None = None  # how its latest attempt continued from a saved state; None: from step 0

    @property
    def languages(self) -> str:
        return f"{self.source}→{self.targets}"


@dataclass
class RunDetail:
    """Everything the run screen shows about one run: its latest attempt, and its curves over the
    attempts of its story (a resumed attempt continues the one before)."""

    run: RunRow
    spec_json: str
    error: str | None
    attempts: list[tuple[int, str, str | None, float, float | None, str | None]]  # number, device, outcome, start, end, log
    log_path: str | None
    log_tail: list[str]
    series: dict[str, tuple[list[float], list[float]]]  # name -> (steps, values), downsampled
    samples: list[tuple[float, int | None, int | None, int | None, int | None, float | None]]  # t, rss, alloc, reserved, peak, util
    results: list[tuple[str, str, str, float]]  # language, split, metric, value
    version: tuple = ()
    resumes: list[Resume] = field(default_factory=list)  # each attempt of the run's story that resumed, in order


@dataclass
class Snapshot:
    taken_at: float
    studies: list[StudySummary]  # engine.store.queries' own, with the ETA filled in
    runs: list[RunRow]
    workers: list[LiveWorker]  # engine.store.queue_reads' own, as `xltui status` lists them
    devices: list[DeviceState]
    detail: RunDetail | None = None
    runs_version: int = 0
    read_s: float = 0.0
    gpu_error: str | None = None  # the GPU probe failed: what, and when it is tried again (DeviceReader)
    by_id: dict[int, RunRow] = field(default_factory=dict, repr=False)


def downsample(xs: list[float], ys: list[float], n: int = CHART_POINTS) -> tuple[list[float], list[float]]:
    """Bucket means to at most ``n`` points (the last point kept exact): charts of any length draw at once."""
    if len(xs) <= n:
        return list(xs), list(ys)
    size = len(xs) / (n - 1)
    out_x, out_y = [], []
    for b in range(n - 1):
        lo, hi = int(b * size), max(int((b + 1) * size), int(b * size) + 1)
        out_x.append(sum(xs[lo:hi]) / (hi - lo))
        out_y.append(sum(ys[lo:hi]) / (hi - lo))
    out_x.append(xs[-1])
    out_y.append(ys[-1])
    return out_x, out_y


