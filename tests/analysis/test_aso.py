"""ASO in comparison tables against deepsig called directly on the same scores, and in every
output format of the real CLI (seeded: the same ε_min twice)."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
from deepsig import aso

from engine.analysis.aso import TAU, aso_eps_min, centred_by_language
from engine.analysis.comparison import POOLED, comparison_table
from engine.analysis.scores import Score, ScoreSet
from tests.support.env import DATA, xltui, xltui_here

ITER = 60


def score_set(shift: float) -> ScoreSet:
    rng = np.random.default_rng(3)
    scores, rid = [], 0
    for lang, level in (("swa", 0.80), ("yor", 0.60), ("hau", 0.70)):
        for seed in range(5):
            for system, delta in (("adapter", shift), ("xlmr", 0.0)):
                rid += 1
                value = float(level + delta + rng.normal(0, 0.01))
                scores.append(Score("s", system, "m", "ner", "zero-shot", lang, seed, "f1", value, rid))
    return ScoreSet(["s"], "test", scores, {}, [s.run_id for s in scores])


def test_eps_min_is_deepsigs_on_the_same_scores():
    data = score_set(0.03)
    table = comparison_table(data, "adapter", ["xlmr"], per_language=True, aso_iterations=ITER, seed=7)
    langs = [r for r in table.rows if r.language != POOLED]
    for row in langs:
        a = [s.value for s in data.scores if s.language == row.language and s.system == "adapter"]
        b = [s.value for s in data.scores if s.language == row.language and s.system == "xlmr"]
        expected = aso(np.array(a), np.array(b), confidence_level=0.95, num_comparisons=len(langs),
                       num_bootstrap_iterations=ITER, seed=7, show_progress=False)
        assert row.aso.eps_min == pytest.approx(expected, abs=1e-12)
        assert row.aso.comparisons == len(langs) and row.aso.dominant
    pooled = next(r for r in table.rows if r.language == POOLED)
    a = {(s.language, s.seed): s.value for s in data.scores if s.system == "adapter"}
    b = {(s.language, s.seed): s.value for s in data.scores if s.system == "xlmr"}
    xs, ys = centred_by_language(a, b)
    expected = aso(np.array(xs), np.array(ys), confidence_level=0.95, num_comparisons=1,
                   num_bootstrap_iterations=ITER, seed=7, show_progress=False)
    assert pooled.aso.eps_min == pytest.approx(expected, abs=1e-12) and pooled.aso.eps_min < TAU
    # centring removes the languages' levels: pooled raw scores would not show the 3-point gain
    assert abs(np.mean(xs) - np.mean(ys) - 0.03) < 0.01 and abs(np.mean(xs) + np.mean(ys)) < 1e-12


def test_eps_min_follows_the_direction_and_says_when_it_cannot_answer():
    worse = comparison_table(score_set(-0.03), "adapter", ["xlmr"], aso_iterations=ITER)
    assert worse.rows[0].aso.eps_min > 1 - TAU and not worse.rows[0].aso.dominant
    assert math.isnan(aso_eps_min([0.5], [0.4, 0.3]).eps_min)
    assert "on request, --aso" in comparison_table(score_set(0.0), "adapter", ["xlmr"]).caption
    assert comparison_table(score_set(0.0), "adapter", ["xlmr"]).rows[0].aso is None


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> str:
    db = str(tmp_path_factory.mktemp("aso") / "experiments.db")
    xltui("import-results", str(DATA / "results" / "masakhaner2_baselines.csv"), "--db", db, check=True)
    return db


def test_aso_in_every_format_of_the_cli(imported):
    """In this process: the formats are what is tested, not the start-up (deepsig is imported once)."""
    args = ("results", "masakhaner2_baselines", "--db", imported, "--compare", "xlmrlarge:xlmrbase",
            "--aso", "--aso-iterations", str(ITER))
    out = json.loads(xltui_here(*args, "--format", "json", check=True).stdout)
    rows = out["comparison"]["rows"]
    assert rows and all(0.0 <= r["aso"]["eps_min"] <= 1.0 and r["aso"]["iterations"] == ITER for r in rows)
    again = json.loads(xltui_here(*args, "--format", "json", check=True).stdout)
    assert [r["aso"]["eps_min"] for r in again["comparison"]["rows"]] == [r["aso"]["eps_min"] for r in rows]
    table = [r for r in csv.DictReader(io.StringIO(xltui_here(*args, "--format", "csv", check=True).stdout))
             if r.get("aso_eps_min")]
    assert table and {r["aso_iterations"] for r in table} == {str(ITER)} and table[0]["aso_confidence"] == "0.95"
    latex = xltui_here(*args, "--format", "latex", check=True).stdout
    assert r"\varepsilon_{\min}" in latex and "0.2" in latex
    terminal = xltui_here(*args, check=True).stdout
    assert "ε_min" in terminal and "Almost Stochastic Order" in terminal
    plain = xltui_here("results", "masakhaner2_baselines", "--db", imported, "--compare", "xlmrlarge:xlmrbase",
                  "--format", "csv", check=True).stdout
    assert not any(r.get("aso_eps_min") for r in csv.DictReader(io.StringIO(plain)))
