"""The efficiency table from stored runs: real Run/Attempt/Result rows written by the queue and
record_output (tests/support/costed_runs.py), every number checked against a computation written out
here from the plain dictionaries the runs were stored from, not read back from the database."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from engine.analysis import render
from engine.analysis.efficiency import (
    COST_METRICS,
    efficiency_cells,
    efficiency_header,
    efficiency_table,
    fmt_bytes,
    fmt_count,
    fmt_share,
    method_label,
    read_costs,
    shown_efficiency_columns,
)
from engine.analysis.figures import efficiency_panels, terminal_charts, terminal_efficiency_chart, write_figures
from engine.analysis.import_results import run_spec
from engine.analysis.report import build_report
from engine.analysis.scores import read_scores
from engine.runner.plan import queue_runs
from engine.spec import AdapterParams, RunSpec, TrainParams
from engine.store import queue
from engine.store.db import open_db
from engine.store.results import RunOutput, record_output
from tests.support.costed_runs import GPU, LABELS, LORA, SEEDS, STUDY, TARGETS, build_costed_runs, costs, score
from tests.support.stored_runs import build_stored_runs

SETTINGS = {"zero-shot": "zero-shot", "few-shot k=10": "few-shot"}


def expected_score(system: str, setting: str) -> tuple[float, float]:
    """Mean and SD over seeds of the per-seed mean over target languages."""
    per_seed = [np.mean([score(system, seed, lang, SETTINGS[setting]) for lang in TARGETS]) for seed in SEEDS]
    return float(np.mean(per_seed)), float(np.std(per_seed, ddof=1))


def expected_costs(system: str, setting: str, seeds=SEEDS) -> dict[str, float]:
    """Means over the runs of the cell: one per seed zero-shot, one per (seed, target) few-shot."""
    runs = [costs(system, seed, SETTINGS[setting]) for seed in seeds
            for _ in (TARGETS if setting != "zero-shot" else ("en",))]
    return {m: float(np.mean([r[m] for r in runs])) for m in COST_METRICS if m in runs[0]}


@pytest.fixture
def stored(db):
    engine = build_costed_runs(db)
    return engine, read_scores(engine, [STUDY]), read_costs(engine, [STUDY])


def test_table_from_stored_runs_matches_an_independent_computation(stored):
    _engine, data, stored_costs = stored
    table = efficiency_table(data, stored_costs)
    assert [(r.system, r.setting) for r in table.rows] == [
        (s, setting) for setting in SETTINGS for s in ("lora", "madx", "xlmr")]  # the score table's order
    for row in table.rows:
        assert (row.task, row.metric, row.method) == ("ner", "f1", LABELS[row.system])
        assert row.n_runs == row.n_costed == (3 if row.setting == "zero-shot" else 6)
        mean, sd = expected_score(row.system, row.setting)
        assert row.score.summary.mean == pytest.approx(mean, abs=1e-12)
        assert row.score.summary.sd == pytest.approx(sd, abs=1e-12)
        want = expected_costs(row.system, row.setting)
        assert set(row.costs) == set(want)  # peak GPU memory only where the runs stored one
        for metric, value in want.items():
            assert row.costs[metric] == pytest.approx(value, rel=1e-12), (row.system, row.setting, metric)
    lora = next(r for r in table.rows if (r.system, r.setting) == ("lora", "zero-shot"))
    # the retried run's cancelled first attempt stored 10x numbers: only its latest attempt counts
    assert lora.costs["s_per_step"] == pytest.approx(np.mean([0.18 + 0.01 * s for s in SEEDS]))
    assert table.has_gpu and not table.warnings
    assert [r.system for r in table.rows if r.cost("peak_gpu_bytes") is not None] == sorted(GPU) * 2


def test_display_strings_and_columns(stored):
    _engine, data, stored_costs = stored
    table = efficiency_table(data, stored_costs)
    header = efficiency_header(table)
    assert header == ["system", "task", "setting", "method", "F1 (%)", "trainable", "trainable %", "s/step",
                      "peak RSS", "peak GPU", "runs"]
    madx = next(r for r in table.rows if (r.system, r.setting) == ("madx", "zero-shot"))
    mean, sd = expected_score("madx", "zero-shot")
    assert efficiency_cells(madx) == ["madx", "ner", "zero-shot", "madx", f"{100 * mean:.1f} ± {100 * sd:.1f}",
                                      "1.49M", f"{100 * 1_490_000 / 280_400_000:.3g}", "0.22", "5.2 GiB", "7.0 GiB",
                                      "3"]
    assert (fmt_count(278_000_000), fmt_count(890_000), fmt_count(512), fmt_count(None)) == ("278M", "890k", "512", "—")
    assert (fmt_share(1.0), fmt_share(0.00319), fmt_bytes(900 * 2**20)) == ("100", "0.319", "900 MiB")
    assert shown_efficiency_columns(table) == list(range(11))


def test_report_leaves_excluded_runs_out_of_scores_and_costs(stored):
    _engine, data, stored_costs = stored
    first = min(s.run_id for s in data.scores if s.system == "xlmr" and s.setting == "zero-shot" and s.seed == 1)
    report = build_report(data, costs=stored_costs, exclude=[first], n_resamples=1000, sentence_resamples=0)
    row = next(r for r in report.efficiency.rows if (r.system, r.setting) == ("xlmr", "zero-shot"))
    assert first not in row.run_ids and row.n_runs == 2
    want = expected_costs("xlmr", "zero-shot", seeds=(2, 3))
    assert row.costs["peak_rss_bytes"] == pytest.approx(want["peak_rss_bytes"], rel=1e-12)
    assert row.score.summary.n == 2 and f"runs {first}" in report.efficiency.caption
    assert report.efficiency.rows[0].score.summary.mean == report.score_tables[0].rows[0].cells["avg"].summary.mean


def test_exports_carry_the_columns_only_when_asked_for(stored):
    _engine, data, stored_costs = stored
    plain = build_report(data, n_resamples=1000, sentence_resamples=0)
    assert plain.efficiency is None and "efficiency" not in render.report_dict(plain)
    assert render.to_csv(plain).splitlines()[0] == ",".join(render.CSV_COLUMNS)  # other exports keep their bytes
    report = build_report(data, costs=stored_costs, n_resamples=1000, sentence_resamples=0)
    rows = [r for r in csv.DictReader(io.StringIO(render.to_csv(report))) if r["table"] == "efficiency"]
    assert len(rows) == 6
    for got, row in zip(rows, report.efficiency.rows):
        assert (got["system"], got["setting"], got["method"], got["language"]) == (
            row.system, row.setting, row.method, "macro-avg")
        assert float(got["mean"]) == row.score.summary.mean and int(got["n_runs"]) == row.n_runs
        assert float(got["s_per_step"]) == row.costs["s_per_step"]  # unrounded
        assert got["peak_gpu_bytes"] == ("" if row.system not in GPU else repr(row.costs["peak_gpu_bytes"]))
        assert got["runs"] == " ".join(map(str, row.run_ids))
    data_json = json.loads(render.to_json(report))["efficiency"]
    assert [r["system"] for r in data_json["rows"][:3]] == ["madx", "lora", "xlmr"]  # MAD-X first, as in the tables
    lora = data_json["rows"][1]
    assert data_json["has_gpu"] is True and lora["costs"]["n_trainable"] == 890_000 and lora["n_runs"] == 3
    assert lora["costs"]["peak_gpu_bytes"] is None  # lora stored none: null, not absent
    md = render.to_markdown(report)
    assert "| system | task | setting | method | F1 (%) | trainable | trainable % |" in md
    tex = render.to_latex(report)
    assert r"\label{tab:efficiency}" in tex and r"trainable \%" in tex and r"\textbf{" in tex
    text = render.to_text(report, width=200)
    assert "Efficiency: score against what trains" in text and "lora alpha=16 r=8" in text


def test_figure_and_terminal_chart(stored, tmp_path):
    _engine, data, stored_costs = stored
    report = build_report(data, costs=stored_costs, n_resamples=1000, sentence_resamples=0)
    panels = efficiency_panels(report.efficiency)
    assert list(panels) == [("ner", "f1")] and list(panels[("ner", "f1")]) == ["zero-shot", "few-shot k=10"]
    point = next(p for p in panels[("ner", "f1")]["zero-shot"] if p.label == "xlmr (full)")
    mean, sd = expected_score("xlmr", "zero-shot")
    assert (point.share, point.mean, point.sd) == pytest.approx((100.0, 100 * mean, 100 * sd))
    names = sorted(p.name for p in write_figures(report, tmp_path / "figs"))
    assert names == ["efficiency-ner-f1.pdf", "efficiency-ner-f1.png", "improvement-ner-f1-madx.pdf",
                     "improvement-ner-f1-madx.png", "macro-ner-f1.pdf", "macro-ner-f1.png"]
    assert (tmp_path / "figs" / "efficiency-ner-f1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    zero, few = terminal_efficiency_chart(report.efficiency, width=90, height=18)
    lines = zero.splitlines()
    assert len(lines) == 18 and max(len(line) for line in lines) <= 90
    assert "zero-shot: score against trainable parameters" in lines[0]
    assert f"madx {100 * expected_score('madx', 'zero-shot')[0]:.1f} ±" in zero and "100" in lines[-2]
    assert len(terminal_charts(report, width=90, height=18)) == 2 + 2 + 2  # macro, improvement, efficiency


def test_runs_without_costs_are_named_not_hidden(db):
    engine = build_stored_runs(db)  # runs that stored test scores only, as imported or older runs do
    table = efficiency_table(read_scores(engine, ["own"]), read_costs(engine, ["own"]))
    assert [(r.system, r.method, r.n_runs, r.n_costed, r.costs) for r in table.rows] == [
        ("madx", "full", 3, 0, {}), ("xlmr", "full", 3, 0, {})]
    assert not table.has_gpu and 9 not in shown_efficiency_columns(table)
    assert table.warnings == ["no costs stored for madx (ner, zero-shot), xlmr (ner, zero-shot) (imported "
                              "results, or runs from before xltui stored them): their cost columns are empty"]
    assert efficiency_cells(table.rows[0])[5:] == ["—", "—", "—", "—", "—", "3"]


def test_mixed_methods_and_partial_costs_are_warned(db):
    """One model name for two methods (a changed grid re-submitted), and a run that stored no costs."""
    engine = open_db(db)
    base = dict(task="ner", model_name="m", model="tiny", source=("en",), targets=("swa",), setting="zero-shot",
                data={"en": "masakhaner", "swa": "masakhaner"}, train=TrainParams())
    queue_runs(engine, "mixed", [RunSpec(method="full", seed=1, **base), RunSpec(method="full", seed=2, **base),
                                 RunSpec(method="adapter", adapter=AdapterParams(task_adapter=LORA), seed=3, **base)])
    while (claim := queue.claim_next(engine, "w", "cpu")) is not None:
        seed = json.loads(claim.spec_json)["seed"]
        out = RunOutput()
        out.add_scores("swa", "test", {"f1": 0.5 + seed / 100})
        if seed != 2:
            out.add_scores("en", "train", {"s_per_step": float(seed)})
        assert record_output(engine, claim.run_id, claim.attempt_id, "w", out)
    table = efficiency_table(read_scores(engine, ["mixed"]), read_costs(engine, ["mixed"]))
    (row,) = table.rows
    assert row.method == "full / lora alpha=16 r=8" and (row.n_runs, row.n_costed) == (3, 2)
    assert row.costs == {"s_per_step": 2.0}  # the mean over the runs that stored it: (1 + 3) / 2
    assert table.warnings == ["m (ner, zero-shot): costs from 2 of 3 runs (the others stored none)",
                              "m (ner, zero-shot): runs of different methods in one row (full / lora alpha=16 "
                              "r=8); give them different model names"]


def test_method_label_of_specs_it_cannot_read():
    external, _hash = run_spec("afroxlmr", "yor", 1, "ner", "in-language")  # an imported study's spec
    assert method_label(external, "external") == "external"
    assert method_label("{not json", "full") == "full"
    bare = RunSpec(task="ner", model_name="x", model="tiny", method="madx", source=("en",), targets=("swa",),
                   setting="zero-shot", seed=1, data={"en": "masakhaner", "swa": "masakhaner"}, train=TrainParams())
    assert method_label(bare.canonical_json(), "madx") == "madx"  # no madx parameters: the stored method
