"""A finished run's scores: per target language, and per label (NER entity type, POS tag, sentiment class)."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from engine.states import RunStatus
from engine.tasks import TASKS
from xltui.tui.snapshot_types import MAIN_METRIC, RunDetail


def score_tables(d: RunDetail) -> Group | Text:
    """Rich tables of the run's stored results (fractions shown as percentages)."""
    task = d.run.task
    if not d.results:
        if d.run.status == RunStatus.SUCCEEDED:
            return Text("This run stored no scores (a language-adapter run has none).")
        return Text(f"Scores appear here when the run has finished (it is {d.run.status}).")
    by_key: dict[tuple[str, str], dict[str, float]] = {}
    for lang, split, metric, value in d.results:
        by_key.setdefault((lang, split), {})[metric] = value
    entry = TASKS.get(task)
    overall = entry.metrics if entry else (MAIN_METRIC.get(task, "f1"),)
    speed = speed_table(train_scores(d))
    keys = sorted((k for k, m in by_key.items() if any(x in m for x in overall)),
                  key=lambda k: (k[1] != "test", k[1], k[0]))
    main = Table(title="per language", title_justify="left", box=box.SIMPLE_HEAD)
    main.add_column("language")
    main.add_column("split")
    for metric in overall:
        main.add_column(metric, justify="right")
    for lang, split in keys:
        m = by_key[(lang, split)]
        main.add_row(lang, split, *(f"{100 * m[x]:.1f}" if x in m else "—" for x in overall))
    per_label, noun = (entry.per_label, entry.label_noun) if entry else ("f1", "label")
    prefix = per_label + ":"
    types = sorted({metric[len(prefix):] for m in by_key.values() for metric in m if metric.startswith(prefix)})
    if not types:
        return Group(main, *speed)
    per = Table(title=f"{per_label} per {noun}", title_justify="left", box=box.SIMPLE_HEAD)
    per.add_column(noun.split()[-1])
    for lang, split in keys:
        per.add_column(f"{lang} {split}", justify="right")
    for t in types:
        per.add_row(t, *(f"{100 * by_key[k][prefix + t]:.1f}" if prefix + t in by_key[k] else "—" for k in keys))
    return Group(main, per, *speed)


def train_scores(d: RunDetail) -> dict[str, float]:
    """What the run stored with its train split: its speed and memory (engine.training.loop.speed_stats)."""
    return {metric: value for _lang, split, metric, value in d.results if split == "train"}


def speed_line(train: dict[str, float]) -> str:
    """A run's speed in a few words (the run title): tokens/s and, on a GPU of known peak, MFU."""
    parts = []
    if train.get("tokens_per_s"):
        parts.append(f"{train['tokens_per_s']:,.0f} tok/s")
    if "mfu" in train:
        parts.append(f"MFU {100 * train['mfu']:.1f}%")
    if train.get("gpu_runs", 1) > 1.05:
        parts.append(f"{train['gpu_runs']:.1f} runs on its GPU")
    return " · ".join(parts)


def speed_table(train: dict[str, float]) -> list[Table]:
    """What the run measured of its own training (stored with its train split), if anything."""
    rows = [(label, fmt(train[key])) for key, label, fmt in SPEED if key in train]
    if not rows:
        return []
    table = Table(title="speed and memory (training steps)", title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for label, value in rows:
        table.add_row(label, value)
    return [table]


SPEED = (  # stored by engine.training.loop.speed_stats, gpu_runs by the worker (engine.runner.admission)
    ("tokens_per_s", "tokens/s (real tokens, no padding)", lambda v: f"{v:,.0f}"),
    ("examples_per_s", "sentences/s", lambda v: f"{v:,.1f}"),
    ("mfu", "model FLOPs utilisation", lambda v: f"{100 * v:.1f}%"),
    ("peak_gpu_bytes", "peak GPU memory (allocated)", lambda v: f"{v / 1024 ** 3:.2f} GiB"),
    ("n_params", "parameters", lambda v: f"{v / 1e6:,.1f} M"),
    ("train_seconds", "training time", lambda v: f"{v:,.0f} s"),
    ("steps", "optimizer steps", lambda v: f"{v:,.0f}"),
    ("gpu_runs", "runs sharing its GPU (average)", lambda v: f"{v:.2f}"),
)


class ScoresView(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield Static("", id="scores-body")

    def show(self, d: RunDetail) -> None:
        self.query_one("#scores-body", Static).update(score_tables(d))
