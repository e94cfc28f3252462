"""Sentence-level tests in `xltui results` from stored predictions (real CLI, real database, real
MasakhaNER test sentences): ΔF1 checked against seqeval on the files themselves, the warnings for
missing files and pairs on different sentences, and every output format."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest
from seqeval.metrics import f1_score
from seqeval.scheme import IOB2

from engine.data.catalog import task_files
from engine.data.conll import read_conll
from engine.data.ner_eval import read_predictions, write_predictions
from tests.support.env import DATA, xltui_here

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG"]
NOISE = {"good": 0.03, "weak": 0.12}
LANGS, SEEDS = ("swa", "yor"), (1, 2, 3)


def noisy(gold, rate, rng):
    return [[TAGS[rng.integers(len(TAGS))] if rng.random() < rate else t for t in s] for s in gold]


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple[str, Path]:
    """Two systems' predictions on 200 real test sentences per language and seed, imported as a study
    whose runs carry them as artifacts, as a finished xltui run records them."""
    root = tmp_path_factory.mktemp("sentence")
    rng = np.random.default_rng(0)
    rows, files = [], {}
    for lang in LANGS:
        sentences = read_conll(task_files("ner", "masakhaner", lang).test, limit=200)
        tokens, gold = [list(s.tokens) for s in sentences], [list(s.tags) for s in sentences]
        for system, rate in NOISE.items():
            for seed in SEEDS:
                pred = noisy(gold, rate, rng)
                path = root / f"{system}-{seed}" / f"predictions-{lang}-test.txt"
                path.parent.mkdir(exist_ok=True)
                write_predictions(path, tokens, gold, pred)
                files[(lang, system, seed)] = path
                rows.append(f"{lang},{system},{seed},{f1_score(gold, pred, mode='strict', scheme=IOB2)}")
    results = root / "twosys.csv"
    results.write_text("language,model,run,f1\n" + "\n".join(rows) + "\n")
    db = str(root / "experiments.db")
    xltui_here("import-results", str(results), "--db", db, check=True)
    with sqlite3.connect(db) as con:
        for rid, attempt, model, lang, seed in con.execute(
                "SELECT id, attempt_id, model_name, targets, seed FROM run").fetchall():
            con.execute("INSERT INTO artifact (run_id, attempt_id, kind, path, language, created_at) "
                        "VALUES (?, ?, 'predictions', ?, ?, ?)", (rid, attempt, str(files[(lang, model, seed)]),
                                                                 lang, time.time()))
    return db, root


def comparison(db: str, *args: str) -> dict:
    out = xltui_here("results", "twosys", "--db", db, "--compare", "good:weak", "--per-language", "--format", "json",
                "--sentence-resamples", "2000", *args, check=True)
    return json.loads(out.stdout)["comparison"]


def seqeval_delta(root: Path, langs=LANGS) -> float:
    """Mean over (language, seed) of seqeval's F1(good) - F1(weak), from the stored files."""
    diffs = []
    for lang in langs:
        for seed in SEEDS:
            f1 = {}
            for system in NOISE:
                _, gold, pred = read_predictions(root / f"{system}-{seed}" / f"predictions-{lang}-test.txt")
                f1[system] = f1_score(gold, pred, mode="strict", scheme=IOB2)
            diffs.append(f1["good"] - f1["weak"])
    return float(np.mean(diffs))


def test_sentence_level_rows_match_seqeval_and_are_significant(study):
    db, root = study
    table = comparison(db)
    pooled = next(r for r in table["rows"] if r["language"] == "pooled")
    sent = pooled["sentence"]
    assert sent["result"]["delta"] == pytest.approx(seqeval_delta(root), abs=1e-12)
    assert sent["pairs"] == 6 and sent["missing"] == 0 and sent["result"]["strata"] == 6
    assert sent["result"]["sentences"] == 6 * 200 and sent["result"]["resamples"] == 2000
    assert sent["result"]["ci_low"] > 0 and sent["result"]["p"] < 0.001
    assert (sent["replication"]["k"], sent["replication"]["n"], sent["replication"]["method"]) == (2, 2, "fisher")
    for lang in LANGS:
        row = next(r for r in table["rows"] if r["language"] == lang)
        assert row["sentence"]["result"]["delta"] == pytest.approx(seqeval_delta(root, (lang,)), abs=1e-12)
        assert row["sentence"]["p_holm"] < 0.01 and row["sentence"]["result"]["strata"] == 3
    # 3 seeds: the seed-level test cannot go below 0.25 per language; the sentence-level one can
    assert all(r["permutation"]["p_min"] >= 0.25 for r in table["rows"] if r["language"] != "pooled")
    assert "paired bootstrap over test sentences" in table["caption"]
    assert comparison(db)["rows"] == table["rows"]  # seeded: the same numbers again


def test_sentence_level_columns_in_every_format(study):
    db, _ = study
    args = ("results", "twosys", "--db", db, "--compare", "good:weak", "--sentence-resamples", "500")
    rows = [r for r in csv.DictReader(io.StringIO(xltui_here(*args, "--format", "csv", check=True).stdout))
            if r["table"] == "comparison"]
    assert rows and all(float(r["sent_ci_low"]) > 0 and r["sent_resamples"] == "500" for r in rows)
    assert rows[0]["sent_replicated_k"] == "2" and "paired bootstrap" in rows[0]["sent_method"]
    assert r"$p_{\mathrm{boot}}$" in xltui_here(*args, "--format", "latex", check=True).stdout
    assert "p_boot" in xltui_here(*args, "--format", "markdown", check=True).stdout
    terminal = xltui_here(*args, check=True).stdout
    assert "Δ_sent" in terminal and "k_s/N" in terminal
    off = xltui_here("results", "twosys", "--db", db, "--compare", "good:weak", "--sentence-resamples", "0",
                "--format", "csv", check=True).stdout
    assert not any(r["sent_delta"] for r in csv.DictReader(io.StringIO(off)))


def test_missing_files_and_different_sentences_are_named_and_left_out(study, tmp_path):
    db, root = study
    copy = str(tmp_path / "copy.db")
    with sqlite3.connect(db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    moved = tmp_path / "elsewhere.txt"
    (root / "weak-1" / "predictions-swa-test.txt").rename(moved)
    other = root / "weak-2" / "predictions-yor-test.txt"
    text = other.read_text()
    other.write_text(text.replace("\n", "\nX O O\n", 1))  # one more token in the first sentence
    try:
        out = xltui_here("results", "twosys", "--db", copy, "--compare", "good:weak", "--format", "json",
                    "--sentence-resamples", "300", check=True)
        table = json.loads(out.stdout)["comparison"]
        pooled = next(r for r in table["rows"] if r["language"] == "pooled")["sentence"]
        assert pooled["pairs"] == 4 and pooled["missing"] == 2 and "2 pair(s) without predictions" in pooled["note"]
        said = " ".join(table["warnings"])
        assert "weak-1/predictions-swa-test.txt is missing" in said
        assert "(yor, seed 2) were evaluated on different test sentences" in said
    finally:
        moved.rename(root / "weak-1" / "predictions-swa-test.txt")
        other.write_text(text)


def test_imported_results_without_predictions_say_so(tmp_path):
    db = str(tmp_path / "pub.db")
    xltui_here("import-results", str(DATA / "results" / "masakhaner2_baselines.csv"), "--db", db, check=True)
    out = xltui_here("results", "masakhaner2_baselines", "--db", db, "--compare", "xlmrlarge:xlmrbase", "--format", "csv",
                check=True).stdout
    rows = [r for r in csv.DictReader(io.StringIO(out)) if r["table"] == "comparison"]
    assert rows and {r["sent_note"] for r in rows} == {"no predictions: sentence-level test unavailable"}
