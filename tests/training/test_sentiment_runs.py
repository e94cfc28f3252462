"""Tweet sentiment through the whole engine: `xltui run --grid` trains a sentence-classification
head for full fine-tuning, MAD-X and an adapter method, zero-shot and few-shot (K tweets per
class, Oromo's drawn from its dev split), stores weighted F1, macro F1 and accuracy per language
with one `gold<TAB>pred` line per test tweet, and `xltui results` tests systems on those tweets."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import Session, select

from engine.data.catalog import task_files
from engine.data.formats import read_task_file
from engine.data.sentiment_eval import classification_scores, read_label_predictions
from engine.store.db import open_db
from engine.store.schema import Artifact, Result, Run
from engine.tasks import SENTIMENT
from tests.support.env import run_study, xltui_here

GRID = """\
study: tweets
task: sentiment
source: en
targets: [swa, orm]
data: {sentiment: afrisenti}
models:
  - {name: tiny, model: tiny, method: full, lr: 1.0e-3}
  - name: madx
    model: minilm
    method: madx
    lr: 1.0e-3
    lang_adapter: {mlm_steps: 4, batch_size: 8, max_length: 32}
  - {name: lora, model: minilm, method: adapter, lr: 1.0e-3, task_adapter: {config: lora, r: 4}}
settings: [zero-shot, {few-shot: [4], pool: {orm: dev}}]
seeds: [1]
train: {batch_size: 8, max_length: 32, epochs: 1, max_train_sentences: 32, max_eval_sentences: 30}
"""
EVAL = 30


@pytest.fixture(scope="module")
def study(tmp_path_factory, cache_dir: Path) -> tuple[str, Path]:
    """One study for the module's tests, trained by a real worker (`xltui run --grid`)."""
    folder = tmp_path_factory.mktemp("tweets")
    return run_study(folder, GRID, cache_dir), folder


def _runs(db: str) -> list[Run]:
    with Session(open_db(db)) as s:
        return list(s.exec(select(Run).where(Run.method != "lang-adapter").order_by(Run.id)))


def _results(db: str, run: Run) -> dict[tuple[str, str], dict[str, float]]:
    out: dict[tuple[str, str], dict[str, float]] = {}
    with Session(open_db(db)) as s:
        for r in s.exec(select(Result).where(Result.attempt_id == run.attempt_id)):
            out.setdefault((r.language, r.split), {})[r.metric] = r.value
    return out


def _artifacts(db: str, run: Run, kind: str) -> dict[str | None, str]:
    with Session(open_db(db)) as s:
        rows = s.exec(select(Artifact).where(Artifact.attempt_id == run.attempt_id, Artifact.kind == kind))
        return {a.language: a.path for a in rows}


@pytest.mark.slow
def test_every_method_and_setting_runs_and_scores_each_tweet(study) -> None:
    db, _tmp = study
    runs = _runs(db)
    assert sorted((r.model_name, r.setting, r.targets) for r in runs) == sorted(
        [(m, "zero-shot", "orm,swa") for m in ("tiny", "madx", "lora")]
        + [(m, "few-shot", t) for m in ("tiny", "madx", "lora") for t in ("orm", "swa")])
    assert all(r.status == "succeeded" for r in runs), [(r.model_name, r.error) for r in runs]
    swa_test = task_files("sentiment", "afrisenti", "swa").test
    swa_gold = [t.label for t in read_task_file(SENTIMENT, swa_test, limit=EVAL)]
    assert len(set(swa_gold)) == 3  # spread over the file: every class, though the file is sorted
    for run in runs:
        scores, predictions = _results(db, run), _artifacts(db, run, "predictions")
        for lang in run.targets.split(","):
            got = scores[(lang, "test")]
            assert {"weighted_f1", "macro_f1", "accuracy"} <= set(got)
            gold, pred = read_label_predictions(predictions[lang])
            assert set(gold) | set(pred) <= set(SENTIMENT.labels)
            # the stored scores are those of the stored predictions
            expected = classification_scores(gold, pred)
            for metric in ("weighted_f1", "macro_f1", "accuracy"):
                assert got[metric] == pytest.approx(expected[metric])
            if run.setting == "zero-shot" and lang == "swa":
                assert gold == swa_gold  # one line per test tweet, in file order
            confusion = json.loads(Path(_artifacts(db, run, "confusion")[lang]).read_text())
            assert sum(n for row in confusion.values() for n in row.values()) == len(gold)


@pytest.mark.slow
def test_few_shot_draws_k_tweets_per_class_apart_from_what_it_scores(study) -> None:
    db, _tmp = study
    for run in (r for r in _runs(db) if r.setting == "few-shot"):
        record = json.loads(Path(_artifacts(db, run, "fewshot_ids")[run.targets]).read_text())
        split = "dev" if run.targets == "orm" else "train"
        assert record["train_split"] == split
        assert not set(record["train_ids"]) & set(record["eval_ids"])
        pool = read_task_file(SENTIMENT, task_files("sentiment", "afrisenti", run.targets).get(split))
        by_id = {f"{split}:{t.id}": t.label for t in pool}
        assert Counter(by_id[i] for i in record["train_ids"]) == {c: 4 for c in SENTIMENT.labels}
        gold, _pred = read_label_predictions(_artifacts(db, run, "predictions")[run.targets])
        assert len(gold) == len(record["eval_ids"]) == EVAL


@pytest.mark.slow
def test_results_test_systems_on_the_same_tweets(study) -> None:
    db, _tmp = study
    out = xltui_here("results", "tweets", "--db", db, "--format", "json", check=True)
    report = json.loads(out.stdout)
    (table,) = report["score_tables"]
    assert (table["task"], table["metric"]) == ("sentiment", "weighted_f1")
    assert table["title"].startswith("sentiment weighted F1 (%)")
    rows = report["comparison"]["rows"]
    assert {r["baseline"] for r in rows} == {"tiny", "lora"}
    tested = [r for r in rows if r["sentence"] and r["sentence"]["result"]]
    assert tested, "the paired bootstrap ran on the stored tweet predictions"
    assert all(r["sentence"]["result"]["sentences"] > 0 for r in tested)
    assert "test tweets" in report["comparison"]["caption"]
