"""Helpers shared by tests (moved from tests/analysis/test_render.py)."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from engine.analysis import render
from engine.analysis.scores import CellStatus, Score, ScoreSet

NASTY = "x&y_%$#{}~^\\|<>"  # every character LaTeX treats specially, in a system name


def score_set() -> ScoreSet:
    """Two settings, a system whose name is all LaTeX specials, a one-seed cell, a cell missing seeds."""
    values = {
        ("madx", "zero-shot"): {"swa": [0.81, 0.83, 0.80], "yor_x": [0.70, 0.72, 0.69]},
        (NASTY, "zero-shot"): {"swa": [0.78, 0.79, 0.80], "yor_x": [0.66, 0.69, 0.70]},
        ("madx", "few-shot k=10"): {"swa": [0.85, 0.86, 0.84], "yor_x": [0.75]},
        (NASTY, "few-shot k=10"): {"swa": [0.84, 0.83, 0.86], "yor_x": [0.74, 0.73, 0.76]},
    }
    scores, status, run_id = [], {}, 0
    for (system, setting), per_lang in values.items():
        for lang, vals in per_lang.items():
            for seed, v in enumerate(vals, start=1):
                run_id += 1
                scores.append(Score("s", system, "madx" if system == "madx" else "full", "ner", setting, lang, seed,
                                    "f1", v, run_id))
            status[(system, "ner", setting, lang)] = CellStatus(Counter(succeeded=len(vals)))
    status[("madx", "ner", "few-shot k=10", "yor_x")] = CellStatus(Counter(succeeded=1, queued=1, failed=1))
    return ScoreSet(["s"], "test", scores, status, list(range(1, run_id + 1)))


def compile_latex(body: str, directory: Path) -> Path:
    """pdflatex a standalone document around ``body``; skips only when pdflatex is not installed."""
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed (Debian: apt-get install --no-install-recommends "
                    "texlive-latex-recommended, which brings booktabs)")
    tex = directory / "tables.tex"
    tex.write_text(render.latex_document(body), encoding="utf-8")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", tex.name],
                          cwd=directory, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "mktexpk" not in proc.stdout + proc.stderr  # only Type 1 fonts: no bitmap fonts made on the fly
    pdf = directory / "tables.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    return pdf
