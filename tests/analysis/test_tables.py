"""Tables from stored runs: real Run/Attempt/Result rows written by the queue and
record_output (no training), the imported MasakhaNER 2.0 baselines, and the
honest-reporting warnings (missing seeds, unpaired runs, p floors, leakage)."""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections import defaultdict

import numpy as np
import pytest
from sqlmodel import Session

from engine.analysis import stats
from engine.analysis.comparison import POOLED, comparison_table
from engine.analysis.import_results import import_results
from engine.analysis.leakage import FEWSHOT_KIND, find_leaks, read_fewshot_ids, train_eval_overlap
from engine.analysis.report import build_report
from engine.analysis.scores import read_scores, setting_label
from engine.analysis.tables import AVG, score_table
from engine.runner.plan import queue_runs
from engine.spec import Outcome, RunSpec, TrainParams
from engine.store import queue, requests
from engine.store.db import open_db
from engine.store.results import RunOutput, record_output
from engine.store.schema import Result
from tests.support.stored_runs import CSV_PATH, SCORES, build_stored_runs, spec

# system -> language -> seed -> test F1 (fractions, as seqeval stores them)


def test_table_a_cells_from_stored_runs(db):
    engine = build_stored_runs(db)
    data = read_scores(engine, ["own"])
    assert {(s.system, s.language) for s in data.scores if s.metric == "f1"} == {
        (m, lang) for m in SCORES for lang in ("swa", "yor")}  # the source-dev score is not a test score
    table = score_table(data, "ner", "f1")
    assert table.languages == ["swa", "yor"] and table.columns == ["swa", "yor", AVG]
    rows = {r.system: r for r in table.rows}
    for system, langs in SCORES.items():
        for lang, per_seed in langs.items():
            cell = rows[system].cells[lang]
            values = list(per_seed.values())
            assert cell.n == 3 and not cell.incomplete
            assert cell.summary.mean == pytest.approx(np.mean(values), abs=1e-12)
            assert cell.summary.sd == pytest.approx(np.std(values, ddof=1), abs=1e-12)
        macro = [np.mean([langs["swa"][s], langs["yor"][s]]) for s in (1, 2, 3)]
        assert rows[system].cells[AVG].summary.mean == pytest.approx(np.mean(macro), abs=1e-12)
        assert rows[system].cells[AVG].summary.sd == pytest.approx(np.std(macro, ddof=1), abs=1e-12)
    assert all(rows["madx"].cells[c].best and not rows["xlmr"].cells[c].best for c in table.columns)
    assert not table.warnings


def _exact_sign_flip_p(diffs: list[float]) -> float:
    """Brute force over all 2^n sign vectors, written out independently of engine.analysis.stats."""
    observed = abs(round(sum(diffs), 9))
    hits = sum(abs(round(sum(s * d for s, d in zip(signs, diffs)), 9)) >= observed
               for signs in itertools.product((1, -1), repeat=len(diffs)))
    return hits / 2 ** len(diffs)


def test_table_c_rows_from_stored_runs(db):
    engine = build_stored_runs(db)
    report = build_report(read_scores(engine, ["own"]), per_language=True)  # madx is found by name
    table = report.comparison
    assert (table.system, table.baselines) == ("madx", ["xlmr"])
    pooled = [r for r in table.rows if r.language == POOLED]
    assert len(pooled) == 1 and len(table.rows) == 3
    row = pooled[0]
    diffs = [SCORES["madx"][lang][s] - SCORES["xlmr"][lang][s] for lang in ("swa", "yor") for s in (1, 2, 3)]
    assert (row.result.n_pairs, row.result.n_dropped) == (6, 0)
    assert row.result.mean_diff == pytest.approx(np.mean(diffs), abs=1e-12)
    assert row.result.permutation.exact and row.result.permutation.p == pytest.approx(_exact_sign_flip_p(diffs))
    assert row.result.permutation.p == pytest.approx(2 / 64)
    assert row.result.d_z == pytest.approx(np.mean(diffs) / np.std(diffs, ddof=1))
    assert row.p_holm == row.result.permutation.p and row.mark == "†"  # one pooled test: Holm changes nothing
    for r in table.rows:
        if r.language != POOLED:
            assert r.result.n_pairs == 3 and r.result.permutation.p_min == 0.25 and r.mark == ""
    assert any("cannot reach p < 0.05 by design" in w for w in table.warnings)
    assert "pool the pairs of all languages" in table.caption and "d_z = mean(diff) / sd(diff)" in table.caption


def test_queued_and_failed_runs_show_as_missing_seeds(db):
    engine = build_stored_runs(db, queued=(("madx", 4),), failed=(("madx", 5),))
    report = build_report(read_scores(engine, ["own"]))
    table = report.score_tables[0]
    madx = next(r for r in table.rows if r.system == "madx")
    cell = madx.cells["swa"]
    assert (cell.n, cell.n_expected, cell.n_pending, cell.n_failed) == (3, 5, 1, 1)
    assert cell.seeds_label == "3/5 seeds" and madx.cells[AVG].seeds_label == "3/5 seeds"
    assert any("madx (ner, zero-shot) swa: 3/5 seeds (1 queued or running, 1 failed)" in w
               for w in report.all_warnings)
    xlmr = next(r for r in table.rows if r.system == "xlmr")
    assert not xlmr.cells["swa"].incomplete


def test_fewer_than_three_seeds_and_unpaired_runs_are_reported(db):
    scores = {"madx": {"swa": {1: 0.8, 2: 0.7, 3: 0.75, 4: 0.77}, "yor": {1: 0.6, 2: 0.65}},
              "xlmr": {"swa": {1: 0.7, 2: 0.72, 3: 0.71}, "yor": {1: 0.55, 2: 0.5}}}
    engine = build_stored_runs(db, scores)
    report = build_report(read_scores(engine, ["own"]))
    warnings = report.all_warnings
    assert any("madx (ner, zero-shot): fewer than 3 seeds in yor (2)" in w for w in warnings)
    row = report.comparison.rows[0]
    assert (row.result.n_pairs, row.result.n_dropped) == (5, 1)
    assert any("unpaired comparison — 1 run(s)" in w and "swa: 1 only madx" in w for w in warnings)
    assert any("macro averages use only seeds that have every language" in w and "madx (zero-shot) 2 of 4" in w
               for w in warnings)


def test_only_the_latest_attempt_of_a_retried_run_counts(db):
    engine = open_db(db)
    queue_runs(engine, "own", [spec("madx", 1)])
    first = queue.claim_next(engine, "w", "cpu")
    with Session(engine) as session:  # a first attempt that wrote a score and then crashed
        session.add(Result(run_id=first.run_id, attempt_id=first.attempt_id, language="swa", split="test",
                           metric="f1", value=0.01))
        session.commit()
    queue.finish(engine, first, "w", Outcome.FAILED, error="killed")
    requests.retry(engine, [first.run_id])
    second = queue.claim_next(engine, "w", "cpu")
    out = RunOutput()
    out.add_scores("swa", "test", {"f1": 0.8})
    record_output(engine, second.run_id, second.attempt_id, "w", out)
    data = read_scores(engine, ["own"])
    assert [(s.language, s.value) for s in data.scores] == [("swa", 0.8)]


def test_few_shot_runs_get_their_own_rows_and_tests(db):
    """One run per (K, target) as the grid expands few-shot; MAD-X found by its method, whatever its name."""
    engine = open_db(db)
    specs, values = [], {}
    for method, name, bonus in (("madx", "adapters", 0.03), ("full", "xlmr", 0.0)):
        for seed in (1, 2, 3):
            zero = RunSpec(task="ner", model_name=name, model="tiny", method=method, source=("en",),
                           targets=("swa", "yor"), setting="zero-shot", seed=seed,
                           data={"en": "masakhaner", "swa": "masakhaner", "yor": "masakhaner"}, train=TrainParams())
            specs.append(zero)
            values[zero.spec_hash()] = {"swa": 0.6 + bonus + seed / 100, "yor": 0.5 + bonus + seed / 100}
            for target in ("swa", "yor"):
                few = zero.model_copy(update=dict(setting="few-shot", k=10, targets=(target,)))
                specs.append(few)
                values[few.spec_hash()] = {target: 0.7 + bonus + seed / 100}
    queue_runs(engine, "fs", specs)
    while (claim := queue.claim_next(engine, "w", "cpu")) is not None:
        out = RunOutput()
        for lang, v in values[claim.spec_hash].items():
            out.add_scores(lang, "test", {"f1": v})
        record_output(engine, claim.run_id, claim.attempt_id, "w", out)
    report = build_report(read_scores(engine, ["fs"]))
    table = report.score_tables[0]
    assert [(r.system, r.setting) for r in table.rows] == [
        ("adapters", "zero-shot"), ("xlmr", "zero-shot"), ("adapters", "few-shot k=10"), ("xlmr", "few-shot k=10")]
    assert all(r.cells["swa"].best == (r.system == "adapters") for r in table.rows)  # bold in each setting
    assert table.rows[2].cells["yor"].summary.mean == pytest.approx(0.75)
    rows = report.comparison.rows
    assert [(r.setting, r.result.n_pairs) for r in rows] == [("zero-shot", 6), ("few-shot k=10", 6)]
    assert all(r.result.mean_diff == pytest.approx(0.03) for r in rows)
    assert [r.p_holm for r in rows] == pytest.approx([2 * 2 / 64, 2 * 2 / 64])  # Holm over the 2 pooled tests


def test_setting_label_carries_the_few_shot_budget():
    assert setting_label("few-shot", {"k": 10}) == "few-shot k=10"
    assert setting_label("zero-shot", {"k": None}) == "zero-shot"
    assert setting_label("few-shot k=10", {"k": 10}) == "few-shot k=10"


# ----------------------------------------------------------------------------- leakage


def test_train_eval_overlap():
    assert train_eval_overlap([1, 2, 3], [3, 4]) == ("3",)
    assert train_eval_overlap(["s7", 8], ["8", "s7", "s9"]) == ("8", "s7")  # 8 and "8" are one id
    assert train_eval_overlap([], [1]) == () and train_eval_overlap([1], []) == ()


def test_leak_from_a_fewshot_ids_artifact_is_reported(db, tmp_path):
    leaky, clean, broken = tmp_path / "leaky.json", tmp_path / "clean.json", tmp_path / "broken.json"
    leaky.write_text(json.dumps({"train_ids": [3, 17, 40], "eval_split": "test", "eval_ids": list(range(10, 50))}))
    clean.write_text(json.dumps({"train_ids": [1, 2], "eval_split": "test", "eval_ids": [3, 4]}))
    broken.write_text(json.dumps({"train_ids": "oops"}))
    assert read_fewshot_ids(leaky)[1] == "test"
    engine = build_stored_runs(db, artifacts={("madx", 1): [(FEWSHOT_KIND, str(leaky), "yor")],
                                              ("madx", 2): [(FEWSHOT_KIND, str(clean), "yor")],
                                              ("xlmr", 1): [(FEWSHOT_KIND, str(broken), "yor")]})
    data = read_scores(engine, ["own"])
    leaks, problems = find_leaks(engine, data.run_ids)
    assert len(leaks) == 1 and leaks[0].overlap == ("17", "40") and leaks[0].language == "yor"
    assert "evaluated on 2 test sentence(s) it trained on: 17, 40" in leaks[0].describe()
    assert len(problems) == 1 and "could not be checked" in problems[0]
    report = build_report(data, leak_notes=[leak.describe() for leak in leaks])
    assert any("it trained on" in w for w in report.all_warnings)


# ----------------------------------------------------------------------------- the published baselines


def csv_scores(model: str, metric: str = "f1") -> dict[tuple[str, int], float]:
    """(language, run) -> value, straight from the CSV file (the independent path)."""
    with open(CSV_PATH, newline="") as fh:
        return {(r["language"], int(r["run"])): float(r[metric]) for r in csv.DictReader(fh) if r["model"] == model}


@pytest.fixture
def baselines(db):
    engine = open_db(db)
    import_results(engine, CSV_PATH)
    return read_scores(engine, ["masakhaner2_baselines"])


def test_score_table_of_the_published_baselines_matches_the_csv(baselines):
    table = score_table(baselines, "ner", "f1")
    assert len(table.languages) == 19 and "luo" not in table.languages and len(table.rows) == 7
    assert {r.setting for r in table.rows} == {"in-language"}
    by_model = {r.system: r for r in table.rows}
    per_lang_means = defaultdict(dict)
    for model, row in by_model.items():
        direct = csv_scores(model)
        for lang in table.languages:
            values = [v for (lg, _), v in sorted(direct.items()) if lg == lang]
            cell = row.cells[lang]
            assert cell.n == len(values) and not cell.incomplete
            assert cell.summary.mean == pytest.approx(float(np.mean(values)), abs=1e-12)
            assert cell.summary.sd == pytest.approx(float(np.std(values, ddof=1)), abs=1e-12)
            per_lang_means[lang][model] = cell.summary.mean
        nested = defaultdict(dict)
        for (lang, run), v in direct.items():
            nested[lang][run] = v
        macro = stats.macro_average(nested, table.languages)
        assert row.cells[AVG].summary.mean == pytest.approx(macro.summary.mean, abs=1e-12)
        assert row.cells[AVG].n == macro.n_complete
    for lang, means in per_lang_means.items():
        best = max(means.values())
        assert {m for m, v in means.items() if v == best} == {m for m, r in by_model.items() if r.cells[lang].best}
    assert by_model["xlmrlarge"].cells["bam"].n == 11 and by_model["rembert"].cells["lug"].n == 5


def test_comparison_of_published_baselines_drops_unpaired_runs(baselines):
    table = comparison_table(baselines, "xlmrlarge", ["xlmrbase"], per_language=True)
    pooled = next(r for r in table.rows if r.language == POOLED)
    a, b = csv_scores("xlmrlarge"), csv_scores("xlmrbase")
    paired = sorted(set(a) & set(b))
    assert (pooled.result.n_pairs, pooled.result.n_dropped) == (len(paired), len(set(a) ^ set(b))) == (129, 8)
    # stats rounds differences to 1e-10 before averaging
    assert pooled.result.mean_diff == pytest.approx(np.mean([a[k] - b[k] for k in paired]), abs=1e-9)
    expected = stats.compare(a, b)
    assert pooled.result.permutation.p == expected.permutation.p and not expected.permutation.exact
    assert pooled.result.d_z == pytest.approx(expected.d_z) and pooled.result.d_av == pytest.approx(expected.d_av)
    bam = next(r for r in table.rows if r.language == "bam")
    assert (bam.result.n_pairs, bam.result.n_dropped) == (5, 6)
    langs = [r for r in table.rows if r.language != POOLED]
    assert [r.p_holm for r in langs] == pytest.approx(stats.holm([r.result.permutation.p for r in langs]))
    assert any("bam: 6 only xlmrlarge" in w and "tsn: 2 only xlmrlarge" in w for w in table.warnings)


def test_holm_runs_over_the_pooled_comparisons_of_the_table(baselines):
    table = comparison_table(baselines, "afroxlmr", ["xlmrlarge", "xlmrbase", "mbert"], n_resamples=2000)
    raw = [r.result.permutation.p for r in table.rows]
    assert [r.p_holm for r in table.rows] == pytest.approx(stats.holm(raw))
    assert all(math.isclose(r.p_holm, min(1.0, 3 * min(raw))) for r in table.rows if r.result.permutation.p == min(raw))
    assert {r.mark for r in table.rows} <= {"", "†", "‡"}
    assert "over the 3 pooled comparisons" in table.caption


def test_systems_shared_by_two_studies_are_told_apart(db, tmp_path):
    engine = build_stored_runs(db)
    path = tmp_path / "paper.csv"
    path.write_text("language,model,run,f1\nswa,madx,1,0.5\nswa,madx,2,0.6\nswa,madx,3,0.55\n")
    import_results(engine, path, setting="zero-shot")
    data = read_scores(engine, ["own", "paper"])
    assert set(data.systems) == {"own/madx", "paper/madx", "xlmr"}
