"""Design power before running: the seed-level floor of a grid's implied comparisons, in
`xltui grid show`, `xltui run` (before queueing) and the composer's check."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.analysis.design import design_check, implied_comparisons
from engine.grid.expand import expand
from engine.grid.schema import load_grid
from engine.runner.study import check_grid
from tests.support.env import TINY_GRID, xltui

REPO = Path(__file__).resolve().parents[2]


def smallest_seeds(languages: int, alpha: float = 0.05) -> int:
    """Brute force: the fewest seeds whose exact sign-flip floor 2^(1-n) clears alpha / languages."""
    return next(n for n in range(1, 64) if 2.0 ** (1 - n) <= alpha / languages)


def test_the_paper_grid_floor_by_brute_force():
    checks = design_check(expand(load_grid(REPO / "configs" / "paper.yaml")))
    assert checks and {c.task for c in checks} == {"ner", "pos"}
    n_pooled = sum(len(c.comparisons) for c in checks)
    for c in checks:
        langs = len(c.languages)
        assert c.seeds == 3 and c.p_min_language == 0.25 and c.p_min_pooled == 2.0 ** (1 - 3 * langs)
        assert c.seeds_needed == smallest_seeds(langs) and c.holm_level == pytest.approx(0.05 / langs)
        assert c.pooled_level == pytest.approx(0.05 / n_pooled)
        assert not c.per_language_possible and c.warnings()
        assert c.pooled_possible == (2.0 ** (1 - 3 * langs) <= 0.05 / n_pooled)
        assert all(a == "madx" for a, _ in c.comparisons)


def test_implied_comparisons():
    assert implied_comparisons({"xlmr": "full", "madx": "madx", "mbert": "full"}) == [("madx", "mbert"),
                                                                                      ("madx", "xlmr")]
    assert implied_comparisons({"b": "full", "a": "full", "c": "full"}) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert implied_comparisons({"a": "full"}) == []


TWO_MODELS = TINY_GRID.replace("  - {{name: tiny, model: tiny, method: full, lr: 1.0e-3}}",
                               "  - {{name: tiny, model: tiny, method: full, lr: 1.0e-3}}\n"
                               "  - {{name: tiny2, model: tiny, method: full, lr: 3.0e-3}}")


def grid_file(tmp_path: Path, seeds: str) -> Path:
    path = tmp_path / "two.yaml"
    path.write_text(TWO_MODELS.format(study="two", seeds=seeds, epochs=1, train=8, eval=8, patience=1))
    return path


def test_grid_show_and_the_composer_warn_and_a_well_seeded_grid_does_not(tmp_path):
    few = grid_file(tmp_path, "[1, 2]")
    out = xltui("grid", "show", str(few), "--db", str(tmp_path / "none.db"), check=True)
    assert "seed-level tests: ner zero-shot (tiny vs tiny2): 2 seed(s) × 2 language(s)" in out.stdout
    assert "no per-language comparison can be significant after Holm over 2 language(s)" in out.stderr
    assert "use 7 seeds" in out.stderr and smallest_seeds(2) == 7
    check = check_grid(few, few.read_text())
    assert check.ok and check.design_warnings
    assert [(c.short(), bool(c.warnings())) for c in check.design] == [("ner zero-shot: 2 seeds × 2 langs, p ≥ 0.5 per language, ≥ 0.12 pooled — per-language "
                             "claims need 7 seeds; pooled cannot reach significance either", True)]
    many = grid_file(tmp_path, "[1, 2, 3, 4, 5, 6, 7]")
    out = xltui("grid", "show", str(many), "--db", str(tmp_path / "none.db"), check=True)
    assert "warning" not in out.stderr and "smallest possible p per language 0.0156" in out.stdout


@pytest.mark.slow
def test_run_warns_before_queueing_and_still_runs(tmp_path):
    grid, db = grid_file(tmp_path, "[1]"), str(tmp_path / "experiments.db")
    out = xltui("run", "--grid", str(grid), "--db", db, "--cpu", cwd=tmp_path, check=True)
    assert "no per-language comparison can be significant" in out.stderr and "study two" in out.stdout
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM run WHERE status = 'succeeded'").fetchone()[0] == 2


def test_a_language_one_side_lacks_is_not_a_comparison_with_no_seeds():
    """The offline paper grid: MiniLM's MAD-X has no Amharic (its vocabulary lacks the script), so
    its comparisons are over Hausa, Swahili and Yoruba with 3 seeds each, never "0 seeds, p nan"."""
    checks = design_check(expand(load_grid(REPO / "configs" / "paper-offline.yaml")))
    ner = {c.setting: c for c in checks if c.task == "ner"}
    assert set(ner) == {"zero-shot", "few-shot k=10"}
    zero = ner["zero-shot"]
    assert zero.seeds == 3 and zero.p_min_language == 0.25
    assert zero.languages == ("hau", "swa", "yor")  # Amharic: xlmr-tiny and mbert-minilm only
    assert all("nan" not in w and "0 seed" not in w for c in checks for w in c.warnings())
    assert all(c.seeds == 3 for c in checks)
