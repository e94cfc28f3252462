"""engine.analysis.figures' terminal charts on plotext 5 (the version textual-plotext 1.x allows): the size the
caller asked for, the title even when wider than the plot, and every bar labelled with its value."""

from __future__ import annotations

from engine.analysis.figures import terminal_improvement_chart, terminal_macro_chart
from engine.analysis.report import build_report
from tests.support.reports import NASTY, score_set


def test_macro_and_improvement_charts_fit_and_carry_their_numbers():
    report = build_report(score_set(), per_language=True, n_resamples=1000)
    table = report.score_tables[0]
    zero, few = terminal_macro_chart(table, width=70, height=14)
    lines = zero.splitlines()
    assert len(lines) == 14 and max(len(line) for line in lines) <= 70
    assert lines[0].strip() == "NER F1 (%), zero-shot: macro average ± SD over seeds"
    assert "75.8 ± 1.5" in zero and "73.7 ± 1.5" in zero  # madx and the other system, mean ± SD
    assert "80.0 ± 0.0" in few  # one complete seed: SD undefined, drawn as 0 (as before the port)
    charts = terminal_improvement_chart(table, "madx", [NASTY], width=60, height=10)
    title = "madx vs best baseline, few-shot k=10: relative NER F1 change (%)"  # wider than the plot area
    assert charts[1].splitlines()[0].strip() == title
    assert "swa +3.0" in charts[0] and "yor_x +2.9" in charts[0]
