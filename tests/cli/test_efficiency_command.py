"""`xltui results --efficiency` as a user runs it (a fresh interpreter per command), on a database of
runs that stored their costs through the store's own functions (tests/support/costed_runs.py): the
terminal table, CSV, JSON, LaTeX and Markdown carry the efficiency columns, checked against numbers
computed here from the dictionaries the runs were stored from; figures; errors stay one line."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from tests.support.costed_runs import GPU, LABELS, SEEDS, STUDY, TARGETS, build_costed_runs, costs, score
from tests.support.env import xltui, xltui_here
from tests.support.reports import compile_latex

COLUMNS = ("system", "task", "setting", "method", "F1 (%)", "trainable", "trainable %", "s/step", "peak RSS",
           "peak GPU", "runs")


@pytest.fixture(scope="module")
def costed(tmp_path_factory) -> str:
    db = str(tmp_path_factory.mktemp("efficiency") / "experiments.db")
    build_costed_runs(db)
    return db


def results(db: str, *args: str):
    return xltui("results", STUDY, "--db", db, "--efficiency", "--sentence-resamples", "0", *args, check=True)


def test_table_shows_every_column_and_each_method(costed):
    out = results(costed).stdout
    assert "Efficiency: score against what trains and what it costs, ner" in out  # one task: in the title
    header = next(line for line in out.splitlines() if "trainable %" in line)
    assert [c for c in COLUMNS if c not in header] == ["task"]
    assert "NER F1 (%), mean ± SD over seeds" in out  # the score tables are still there, before it
    for system, label in LABELS.items():
        assert any(line.split()[:1] == [system] and label in line for line in out.splitlines())
    assert "1.49M" in out and "278M" in out and "7.0 GiB" in out


def test_csv_rows_match_an_independent_computation(costed):
    proc = results(costed, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    eff = {(r["system"], r["setting"]): r for r in rows if r["table"] == "efficiency"}
    assert len(eff) == 6 and {r["method"] for r in eff.values()} == set(LABELS.values())
    for (system, setting), row in eff.items():
        kind = "zero-shot" if setting == "zero-shot" else "few-shot"
        per_seed = [np.mean([score(system, seed, lang, kind) for lang in TARGETS]) for seed in SEEDS]
        assert float(row["mean"]) == pytest.approx(np.mean(per_seed), abs=1e-12)
        assert float(row["sd"]) == pytest.approx(np.std(per_seed, ddof=1), abs=1e-12)
        assert int(row["n_runs"]) == int(row["n_costed"]) == (3 if kind == "zero-shot" else 6)
        stored = [costs(system, seed, kind) for seed in SEEDS]
        for metric in ("n_trainable", "trainable_share", "s_per_step", "peak_rss_bytes", "steps"):
            assert float(row[metric]) == pytest.approx(np.mean([c[metric] for c in stored]), rel=1e-12)
        gpu = np.mean([c["peak_gpu_bytes"] for c in stored]) if system in GPU else None
        assert (float(row["peak_gpu_bytes"]) if row["peak_gpu_bytes"] else None) == gpu
    plain = xltui("results", STUDY, "--db", costed, "--format", "csv", "--sentence-resamples", "0", check=True)
    assert "efficiency" not in plain.stdout and ",method," not in plain.stdout.splitlines()[0]


def test_json_markdown_and_latex(costed, tmp_path):
    data = json.loads(results(costed, "--format", "json").stdout)["efficiency"]
    rows = {(r["system"], r["setting"]): r for r in data["rows"]}
    madx = rows[("madx", "few-shot k=10")]
    assert madx["method"] == "madx" and madx["n_runs"] == 6 and data["has_gpu"] is True
    assert madx["costs"]["s_per_step"] == pytest.approx(np.mean([0.20 + 0.01 * s for s in SEEDS]), rel=1e-12)
    assert rows[("xlmr", "zero-shot")]["costs"]["trainable_share"] == 1.0
    md = results(costed, "--format", "markdown").stdout
    assert "| " + " | ".join(COLUMNS) + " |" in md and "| lora alpha=16 r=8 |" in md
    out = tmp_path / "tables.tex"
    proc = results(costed, "--format", "latex", "-o", str(out))
    assert f"wrote {out}" in proc.stderr
    tex = out.read_text()
    assert r"\label{tab:efficiency}" in tex and r"Method & F1 (\%) & trainable & trainable \%" in tex
    assert "lora alpha=16 r=8" in tex and r"\textbf{" in tex
    compile_latex(tex, tmp_path)


def test_figures_and_terminal_charts(costed, tmp_path):
    proc = results(costed, "--figures", str(tmp_path / "figs"), "--charts", "--format", "markdown")
    names = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert "efficiency-ner-f1.png" in names and "efficiency-ner-f1.pdf" in names and "macro-ner-f1.png" in names
    assert "NER F1 (%), few-shot k=10: score against trainable parameters (± SD over seeds)" in proc.stderr
    assert "trainable parameters (% of all, log scale)" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["results", "nope", "--efficiency"], "error: no study named 'nope'; studies:"),
    (["results", STUDY, "--efficiency", "--metric", "accuracy"], "error: no accuracy scores in costs"),
    (["results", STUDY, "--efficiency", "--format", "docx"], "error: --format: expected one of"),
])
def test_bad_input_is_one_error_line(costed, args, message):
    proc = xltui_here(*args, "--db", costed)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
