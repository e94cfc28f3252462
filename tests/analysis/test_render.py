"""Exporters: tidy CSV (unrounded, one row per cell), LaTeX that pdflatex compiles with
booktabs (special characters escaped), Markdown, JSON, the rich table and the figures."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from engine.analysis import render
from engine.analysis.comparison import POOLED
from engine.analysis.figures import relative_improvements, terminal_charts, write_figures
from engine.analysis.report import build_report
from engine.analysis.tables import AVG
from tests.support.reports import NASTY, compile_latex, score_set


@pytest.fixture
def report():
    return build_report(score_set(), per_language=True, n_resamples=1000)


def test_table_structure(report):
    table = report.score_tables[0]
    assert [(r.system, r.setting) for r in table.rows] == [
        ("madx", "zero-shot"), (NASTY, "zero-shot"), ("madx", "few-shot k=10"), (NASTY, "few-shot k=10")]
    few = table.rows[2].cells
    assert few["yor_x"].n == 1 and math.isnan(few["yor_x"].summary.sd) and few["yor_x"].seeds_label == "1/3 seeds"
    assert few[AVG].n == 1  # only seed 1 has every language
    best = [r.cells["swa"].best for r in table.rows]
    assert best == [True, False, True, False]  # best within each setting, not over all rows


def test_csv_is_tidy_and_unrounded(report):
    rows = list(csv.DictReader(io.StringIO(render.to_csv(report))))
    table = report.score_tables[0]
    score_rows = [r for r in rows if r["table"] == "scores"]
    assert len(score_rows) == len(table.rows) * len(table.columns)  # one row per cell
    for row in table.rows:
        for col, cell in row.cells.items():
            got = next(r for r in score_rows if r["system"] == row.system and r["setting"] == row.setting
                       and r["language"] == ("macro-avg" if col == AVG else col))
            assert float(got["mean"]) == cell.summary.mean  # exact round trip: no rounding
            assert got["sd"] == ("" if math.isnan(cell.summary.sd) else repr(cell.summary.sd))
            assert int(got["n"]) == cell.n and int(got["n_expected"]) == cell.n_expected
            assert got["best"] == str(int(cell.best))
    comparison = [r for r in rows if r["table"] == "comparison"]
    assert len(comparison) == len(report.comparison.rows)
    for got, row in zip(comparison, report.comparison.rows):
        assert got["language"] == row.language and float(got["p_perm"]) == row.result.permutation.p
        num = lambda text: math.nan if text == "" else float(text)
        for column, value in (("mean_diff", row.result.mean_diff), ("d_z", row.result.d_z),
                              ("p_t", row.result.t_test.p)):
            assert num(got[column]) == value or (math.isnan(value) and got[column] == "")
        assert got["mark"] == row.mark and float(got["p_holm"]) == row.p_holm


def test_latex_escapes_every_special_character():
    assert render.latex_escape("&%$#_{}~^\\") == (r"\&\%$\$$\#\_\{\}\textasciitilde{}\textasciicircum{}"
                                                  r"\textbackslash{}")
    assert render.latex_escape("a<b|c>d ± 1") == r"a\textless{}b\textbar{}c\textgreater{}d $\pm$ 1"


def test_latex_is_booktabs_and_compiles(report, tmp_path):
    text = render.to_latex(report)
    assert text.count(r"\toprule") == 2 and text.count(r"\bottomrule") == 2 and r"\hline" not in text
    assert render.latex_escape(NASTY) in text and NASTY not in text
    assert r"\textbf{" in text and r"$^{\dagger}$" in text  # best cells, † after Holm
    assert "% warning:" in text
    compile_latex(text, tmp_path)


def test_markdown(report):
    text = render.to_markdown(report)
    assert "| model | setting | swa | yor_x | avg |" in text
    assert NASTY.replace("|", r"\|") in text
    assert "**81.3 ± 1.5**" in text  # madx zero-shot swa, the column's best
    assert "(1/3 seeds)" in text and "**Warnings**" in text
    header = next(line for line in text.splitlines() if line.startswith("| baseline"))
    assert header.count("|") - 1 == len(render.COMPARISON_HEADER) - 4 and "ε_min" not in header  # no --aso, no predictions


def test_json_round_trips_without_nan(report):
    data = json.loads(render.to_json(report))
    table = data["score_tables"][0]
    cell = table["rows"][2]["cells"]["yor_x"]
    assert cell["n"] == 1 and cell["sd"] is None and cell["values"] == [0.75]
    rows = data["comparison"]["rows"]
    assert [r["language"] for r in rows][:2] == [POOLED, POOLED]
    assert rows[0]["permutation"]["exact"] is True and isinstance(rows[0]["p_holm"], float)
    assert data["warnings"] == report.all_warnings


def test_rich_rendering_shows_missing_seeds_and_warnings(report):
    text = render.to_text(report, width=200)
    assert "NER F1 (%), mean ± SD over seeds" in text and "1/3 seeds" in text
    assert "Warnings:" in text and "1 queued or running, 1 failed" in text
    narrow = render.to_text(report, width=60)  # transposed: languages become rows
    assert "language" in narrow.splitlines()[2] or "language" in narrow


def test_figures_as_files_and_terminal_charts(report, tmp_path):
    paths = write_figures(report, tmp_path / "figs")
    names = sorted(p.name for p in paths)
    assert names == ["improvement-ner-f1-madx.pdf", "improvement-ner-f1-madx.png", "macro-ner-f1.pdf",
                     "macro-ner-f1.png"]
    for p in paths:
        head = p.read_bytes()[:8]
        assert head.startswith(b"%PDF-") if p.suffix == ".pdf" else head == b"\x89PNG\r\n\x1a\n"
    charts = terminal_charts(report, width=90, height=18)
    assert len(charts) == 4  # macro per setting (2) + improvement per setting (2)
    assert "madx" in charts[0] and "swa" in charts[2]
    imps = relative_improvements(report.score_tables[0], "madx", [NASTY])
    swa = next(i for i in imps if i.setting == "zero-shot" and i.language == "swa")
    assert swa.relative == pytest.approx(100 * (0.81333333 - 0.79) / 0.79, rel=1e-6)
