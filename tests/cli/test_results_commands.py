"""`xltui import-results` and `xltui results` as a user runs them (a fresh interpreter
per command): the real MasakhaNER 2.0 baseline CSV into a database, then every export
format checked against engine.analysis.stats computed straight from the CSV file."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time

import numpy as np
import pytest

from engine.analysis import stats
from tests.support.env import DATA, xltui
from tests.support.reports import compile_latex
from tests.support.stored_runs import SCORES, build_stored_runs

CSV_PATH = DATA / "results" / "masakhaner2_baselines.csv"
STUDY = "masakhaner2_baselines"

HELP_WITHOUT_TORCH = """
import sys
from typer.testing import CliRunner
from xltui.cli import app
for args in (["--help"], ["results", "--help"], ["import-results", "--help"]):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (args, result.output)
heavy = [m for m in ("torch", "transformers", "matplotlib", "plotext", "scipy", "sqlmodel") if m in sys.modules]
assert not heavy, heavy
print("light")
"""


def from_csv(model: str) -> dict[tuple[str, int], float]:
    with open(CSV_PATH, newline="") as fh:
        return {(r["language"], int(r["run"])): float(r["f1"]) for r in csv.DictReader(fh) if r["model"] == model}


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> str:
    db = str(tmp_path_factory.mktemp("cli") / "experiments.db")
    proc = xltui("import-results", str(CSV_PATH), "--db", db, check=True)
    assert "896 runs imported (2688 results), 0 already there — 7 models × 19 languages" in proc.stdout
    again = xltui("import-results", str(CSV_PATH), "--db", db, check=True)
    assert "0 runs imported (0 results), 896 already there" in again.stdout
    return db


def results(db: str, *args: str) -> subprocess.CompletedProcess:
    return xltui("results", STUDY, "--db", db, "--compare", "xlmrlarge:xlmrbase", *args, check=True)


REPORT_WITHOUT_TORCH = """
import sys
import engine.analysis.figures, engine.analysis.import_results, engine.analysis.leakage, engine.analysis.render, engine.analysis.report, engine.analysis.scores
heavy = [m for m in ("torch", "transformers", "textual", "xltui", "matplotlib", "plotext") if m in sys.modules]
assert not heavy, heavy
print("light")
"""


@pytest.mark.parametrize("script", [HELP_WITHOUT_TORCH, REPORT_WITHOUT_TORCH], ids=["help", "report-modules"])
def test_help_and_report_modules_stay_light(script):
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "light", out.stderr


RESULTS_WITHOUT_HEAVY_IMPORTS = """
import sys
from typer.testing import CliRunner
from xltui.cli import app
for extra in ([], ["--compare", "xlmrlarge:xlmrbase"]):
    result = CliRunner().invoke(app, ["results", sys.argv[1], "--db", sys.argv[2], "--format", "csv", *extra])
    assert result.exit_code == 0, result.output
    assert result.output.count("\\n") > 10, result.output
    if not extra:  # score tables without paired tests: pure Python (engine.analysis.summary)
        assert "numpy" not in sys.modules, "numpy imported for score tables alone"
heavy = [m for m in ("scipy", "matplotlib", "plotext", "torch", "textual", "sqlalchemy") if m in sys.modules]
assert not heavy, heavy
print("light")
"""


def test_results_as_csv_import_neither_scipy_nor_matplotlib(imported):
    """scipy.stats costs seconds to import, scipy.special 0.2 s: the t distribution is engine.analysis.tdist;
    matplotlib only when figures are asked for; SQLAlchemy (0.3 s) not for a current SQLite file; numpy
    (0.13 s) only for the paired tests."""
    out = subprocess.run([sys.executable, "-c", RESULTS_WITHOUT_HEAVY_IMPORTS, STUDY, imported], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("light"), out.stdout[-500:] + out.stderr


def test_csv_export_matches_stats_on_the_csv_file(imported):
    start = time.monotonic()
    proc = results(imported, "--format", "csv")
    assert time.monotonic() - start < 30
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    a, b = from_csv("xlmrlarge"), from_csv("xlmrbase")
    pooled = next(r for r in rows if r["table"] == "comparison" and r["language"] == "pooled")
    expected = stats.compare(a, b)  # the same defaults: 100000 Monte Carlo resamples, seed 0
    assert (int(pooled["n_pairs"]), int(pooled["n_dropped"])) == (expected.n_pairs, expected.n_dropped) == (129, 8)
    assert float(pooled["mean_diff"]) == expected.mean_diff
    assert float(pooled["p_perm"]) == expected.permutation.p and pooled["perm_exact"] == "0"
    assert float(pooled["p_t"]) == expected.t_test.p and float(pooled["d_z"]) == expected.d_z
    assert float(pooled["d_av"]) == expected.d_av and float(pooled["p_holm"]) == expected.permutation.p
    paired = sorted(set(a) & set(b))
    assert float(pooled["mean_diff"]) == pytest.approx(np.mean([a[k] - b[k] for k in paired]), abs=1e-9)
    cell = next(r for r in rows if r["table"] == "scores" and r["system"] == "xlmrbase" and r["language"] == "yor")
    yor = [v for (lang, _), v in sorted(b.items()) if lang == "yor"]
    assert float(cell["mean"]) == pytest.approx(np.mean(yor), abs=1e-12) and int(cell["n"]) == len(yor)
    assert float(cell["sd"]) == pytest.approx(np.std(yor, ddof=1), abs=1e-12)
    assert sum(r["table"] == "scores" for r in rows) == 7 * 20  # 7 models × (19 languages + macro average)
    assert "unpaired comparison — 8 run(s)" in proc.stderr  # warnings reach the reader on stderr


def test_json_markdown_and_table_agree(imported):
    data = json.loads(results(imported, "--format", "json").stdout)
    row = data["comparison"]["rows"][0]
    expected = stats.compare(from_csv("xlmrlarge"), from_csv("xlmrbase"))
    assert row["mean_diff"] == expected.mean_diff and row["n_dropped"] == 8
    assert row["permutation"] == {"p": expected.permutation.p, "exact": False, "n_permutations": 100000,
                                  "p_min": expected.permutation.p_min}
    md = results(imported, "--format", "markdown").stdout
    delta = f"{100 * expected.mean_diff:.2f}".replace("-", "-")
    assert f"| xlmrbase | ner | in-language | pooled | 129 | 8 | {delta} |" in md
    assert "**86.0 ± 0.1**" in md  # afroxlmr's macro average is the best of the column
    table = results(imported).stdout
    assert "NER F1 (%), mean ± SD over seeds" in table and "MC 100000" in table and "Warnings:" in table


def test_latex_export_compiles(imported, tmp_path):
    out = tmp_path / "tables.tex"
    proc = results(imported, "--format", "latex", "-o", str(out), "--per-language")
    assert f"wrote {out}" in proc.stderr
    text = out.read_text()
    assert r"\toprule" in text and "in-language" in text
    compile_latex(text, tmp_path)


def test_figures_and_terminal_charts(imported, tmp_path):
    proc = results(imported, "--figures", str(tmp_path / "figs"), "--charts", "--format", "markdown")
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == [
        "improvement-ner-f1-xlmrlarge.pdf", "improvement-ner-f1-xlmrlarge.png", "macro-ner-f1.pdf",
        "macro-ner-f1.png"]
    assert "macro average ± SD over seeds" in proc.stderr
    assert "xlmrlarge vs best baseline, in-language: relative NER F1 change (%)" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["results", "nope"], "no study named 'nope'; studies: masakhaner2_baselines"),
    (["results", STUDY, "--compare", "xlmrlarge"], "--compare: expected SYSTEM:BASELINE"),
    (["results", STUDY, "--compare", "madx:xlmrbase"], "--compare: no results for 'madx'"),
    (["results", STUDY, "--format", "docx"], "--format: expected one of table, csv, latex, markdown, json"),
])
def test_bad_flags_are_one_line_errors(imported, args, message):
    proc = xltui(*args, "--db", imported)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_bad_csv_leaves_no_database(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("language,model,run,f1\nbam,x,1,0.5\nbam,x,2,n/a\n")
    db = tmp_path / "new.db"
    proc = xltui("import-results", str(bad), "--db", str(db))
    assert proc.returncode == 2 and f"error: {bad}:3:4: f1: 'n/a' is not a number" in proc.stderr
    assert not db.exists()


def test_results_of_our_own_stored_runs(any_db, tmp_path):
    build_stored_runs(any_db, queued=(("madx", 4),))
    data = json.loads(xltui("results", "own", "--db", any_db, "--format", "json", check=True).stdout)
    rows = {r["system"]: r for r in data["score_tables"][0]["rows"]}
    swa = rows["madx"]["cells"]["swa"]
    assert swa["mean"] == pytest.approx(np.mean(list(SCORES["madx"]["swa"].values())), abs=1e-12)
    assert (swa["n"], swa["n_expected"], swa["n_pending"]) == (3, 4, 1)
    comparison = data["comparison"]
    assert (comparison["system"], comparison["baselines"]) == ("madx", ["xlmr"])
    pooled = comparison["rows"][0]
    assert pooled["n_pairs"] == 6 and pooled["permutation"]["p"] == pytest.approx(2 / 64) and pooled["mark"] == "†"
    assert any("3/4 seeds (1 queued or running)" in w for w in data["warnings"])
    md = xltui("results", "own", "--db", any_db, "--format", "markdown", check=True).stdout
    assert "(3/4 seeds)" in md
