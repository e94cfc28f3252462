"""Suspicious results on the real published MasakhaNER 2.0 runs, found independently from the CSV,
and `xltui results --exclude-runs` recomputing the tables without them (real CLI, real database)."""

from __future__ import annotations

import csv
import gc
import hashlib
import json
import sqlite3
from collections import defaultdict
from pathlib import Path

import pytest

from engine.analysis import stats
from engine.analysis.scores import Score, ScoreSet
from engine.analysis.suspicious import find_suspects, run_ranges
from tests.support.env import DATA, xltui_here

CSV_PATH = DATA / "results" / "masakhaner2_baselines.csv"
STUDY = "masakhaner2_baselines"


def rows() -> list[dict]:
    with open(CSV_PATH, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> str:
    db = str(tmp_path_factory.mktemp("suspicious") / "experiments.db")
    xltui_here("import-results", str(CSV_PATH), "--db", db, check=True)
    # the in-process import's engine closes when it is collected, and SQLite then folds the WAL into
    # the file: let that happen now, so that a later byte comparison sees only what a report writes
    gc.collect()
    sqlite3.connect(db).close()
    return db


def report_json(db: str, *args: str) -> dict:
    proc = xltui_here("results", STUDY, "--db", db, "--format", "json", *args, check=True)
    return json.loads(proc.stdout)


def run_ids(db: str) -> dict[tuple[str, str, int], int]:
    with sqlite3.connect(db) as con:
        return {(lang, model, seed): rid for rid, model, lang, seed in
                con.execute("SELECT id, model_name, targets, seed FROM run")}


def test_collapsed_duplicate_and_copied_results_in_the_published_csv(imported):
    data = rows()
    ids = run_ids(imported)
    collapsed = {ids[(r["language"], r["model"], int(r["run"]))] for r in data if float(r["f1"]) <= 0.01}
    same: dict[tuple, list[int]] = defaultdict(list)  # identical (f1, precision, recall) within a cell
    for r in data:
        if float(r["f1"]) > 0.01:
            same[(r["language"], r["model"], r["f1"], r["precision"], r["recall"])].append(int(r["run"]))
    duplicates = {ids[(k[0], k[1], s)] for k, seeds in same.items() if len(seeds) > 1 for s in sorted(seeds)[1:]}
    vectors: dict[tuple, dict[str, tuple]] = defaultdict(dict)
    for (lang, model), group in _cells(data).items():
        vectors[lang][model] = tuple(sorted(group))
    copied = sorted({lang for lang, models in vectors.items()
                     if models.get("afriberta") == models.get("mbert") is not None})

    report = report_json(imported)
    by_kind: dict[str, set[int]] = defaultdict(set)
    for s in report["suspects"]:
        by_kind[s["kind"]] |= set(s["runs"])
    assert collapsed and by_kind["collapsed"] == collapsed
    assert duplicates and by_kind["duplicate-run"] == duplicates
    pair = [s for s in report["suspects"] if s["kind"] == "identical-systems"]
    assert len(pair) == 1 and not pair[0]["excludable"]
    assert pair[0]["message"].startswith(f"afriberta and mbert have identical per-seed scores on {len(copied)} ")
    assert all(lang in pair[0]["message"] for lang in copied)
    assert any("--exclude-runs suspicious" in w for w in report["warnings"])


def _cells(data: list[dict]) -> dict[tuple[str, str], list[tuple[int, float]]]:
    out: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    for r in data:
        out[(r["language"], r["model"])].append((int(r["run"]), round(float(r["f1"]), 9)))
    return out


def test_exclude_runs_recomputes_every_table_and_says_so(imported):
    before = hashlib.sha256(Path(imported).read_bytes()).hexdigest()
    report = report_json(imported, "--compare", "xlmrlarge:xlmrbase", "--exclude-runs", "suspicious")
    flagged = {r for s in report["suspects"] if s["excludable"] for r in s["runs"]}
    assert set(report["excluded"]) == flagged
    ids = run_ids(imported)
    keep = lambda model: {(r["language"], int(r["run"])): float(r["f1"]) for r in rows()
                          if r["model"] == model and ids[(r["language"], model, int(r["run"]))] not in flagged}
    expected = stats.compare(keep("xlmrlarge"), keep("xlmrbase"))
    pooled = next(r for r in report["comparison"]["rows"] if r["language"] == "pooled")
    assert pooled["n_pairs"] == expected.n_pairs and pooled["mean_diff"] == pytest.approx(expected.mean_diff)
    assert pooled["mean_diff"] > 0  # with the collapsed runs in, xlmrlarge looked 8 points worse
    assert "Excluded from this table (--exclude-runs)" in report["comparison"]["caption"]
    assert all("Excluded from this table" in t["caption"] for t in report["score_tables"])
    assert hashlib.sha256(Path(imported).read_bytes()).hexdigest() == before  # a report writes nothing

    latex = xltui_here("results", STUDY, "--db", imported, "--format", "latex", "--exclude-runs", "suspicious",
                  check=True).stdout
    assert "% warning: afriberta and mbert have identical" in latex
    csv_out = xltui_here("results", STUDY, "--db", imported, "--format", "csv", check=True).stdout
    kinds = {r["mark"] for r in csv.DictReader(csv_out.splitlines()) if r["table"] == "suspect"}
    assert kinds == {"collapsed", "duplicate-run", "identical-systems"}


@pytest.mark.parametrize("flag, message", [("12,abc", "expected run ids or 'suspicious'"),
                                           ("999999", "no scored run 999999 in masakhaner2_baselines")])
def test_a_bad_exclude_runs_is_one_clear_error(imported, flag, message):
    proc = xltui_here("results", STUDY, "--db", imported, "--exclude-runs", flag)
    assert proc.returncode != 0 and message in proc.stderr and "Traceback" not in proc.stderr


def score(system: str, lang: str, seed: int, value: float, run: int) -> Score:
    return Score("s", system, "full", "ner", "zero-shot", lang, seed, "f1", value, run)


def test_outlier_rule_on_a_hand_made_cell():
    cell = [score("a", "swa", s, v, s) for s, v in enumerate([0.80, 0.81, 0.79, 0.60, 0.805])]
    tight = [score("b", "swa", s, v, 10 + s) for s, v in enumerate([0.700, 0.700, 0.703])]  # MAD 0: 0.3 pp is noise
    found = find_suspects(ScoreSet(["s"], "test", cell + tight, {}, list(range(20))))
    assert [(s.kind, s.runs) for s in found] == [("outlier", (3,))]
    assert "20.0 below its cell's median 80.0" in found[0].message
    assert run_ranges([5, 1, 2, 3, 7, 8]) == "1-3, 5, 7-8"


def test_a_sentiment_run_that_predicts_one_class_is_flagged_though_its_weighted_f1_is_not_near_zero():
    """Predicting 'negative' for every tweet of a two-thirds-negative test set scores weighted F1 0.53:
    far from collapsed, yet the classifier learned nothing. Its per-class recalls give it away."""
    from engine.data.sentiment_eval import classification_scores

    gold = ["negative"] * 20 + ["neutral"] * 6 + ["positive"] * 4

    def run(run_id: int, pred: list[str]) -> list[Score]:
        return [Score("s", "tiny", "full", "sentiment", "zero-shot", "amh", run_id, metric, value, run_id)
                for metric, value in classification_scores(gold, pred).items()]

    one_class = run(1, ["negative"] * 30)
    mostly = run(2, ["negative"] * 29 + ["positive"])  # one positive tweet found: a (weak) classifier
    assert next(s.value for s in one_class if s.metric == "weighted_f1") > 0.5
    found = find_suspects(ScoreSet(["s"], "test", one_class + mostly, {}, [1, 2]))
    assert [(s.kind, s.runs) for s in found if s.kind == "one-class"] == [("one-class", (1,))]
    assert "predicted 'negative' for every text" in next(s.message for s in found if s.kind == "one-class")
    assert not [s for s in found if s.kind == "collapsed"]
