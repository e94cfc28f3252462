"""A finished run's scores: per target language, and per entity type (NER) or POS tag."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from engine.states import RunStatus
from xltui.tui.snapshot_types import MAIN_METRIC, RunDetail

OVERALL = {"ner": ("f1", "precision", "recall", "macro_f1"), "pos": ("accuracy",)}
PER_TYPE = MAIN_METRIC  # per entity type / tag: f1:PER, accuracy:NOUN


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
    overall = OVERALL.get(task, (MAIN_METRIC.get(task, "f1"),))
    keys = sorted(by_key, key=lambda k: (k[1] != "test", k[1], k[0]))
    main = Table(title="per language", title_justify="left", box=box.SIMPLE_HEAD)
    main.add_column("language")
    main.add_column("split")
    for metric in overall:
        main.add_column(metric, justify="right")
    for lang, split in keys:
        m = by_key[(lang, split)]
        main.add_row(lang, split, *(f"{100 * m[x]:.1f}" if x in m else "—" for x in overall))
    prefix = PER_TYPE.get(task, "f1") + ":"
    types = sorted({metric[len(prefix):] for m in by_key.values() for metric in m if metric.startswith(prefix)})
    if not types:
        return Group(main)
    per = Table(title=f"{PER_TYPE.get(task, 'f1')} per {'entity type' if task == 'ner' else 'tag'}",
                title_justify="left", box=box.SIMPLE_HEAD)
    per.add_column("type" if task == "ner" else "tag")
    for lang, split in keys:
        per.add_column(f"{lang} {split}", justify="right")
    for t in types:
        per.add_row(t, *(f"{100 * by_key[k][prefix + t]:.1f}" if prefix + t in by_key[k] else "—" for k in keys))
    return Group(main, per)


class ScoresView(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield Static("", id="scores-body")

    def show(self, d: RunDetail) -> None:
        self.query_one("#scores-body", Static).update(score_tables(d))
