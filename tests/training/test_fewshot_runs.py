"""Few-shot runs end to end: they wait for and continue from their zero-shot run,
train on K seeded target sentences, and never evaluate on what they trained on."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from engine.spec import RunSpec, TrainParams
from engine.store.db import open_db
from engine.store.schema import Artifact, Result, Run
from engine.training.fewshot import fewshot_split
from tests.support.env import xltui

GRID = """\
study: fewshot
task: ner
source: en
targets: [swa]
data: {ner: masakhaner}
models:
  - {name: tiny, model: tiny, method: full, lr: 1.0e-3}
settings: [zero-shot, {few-shot: [5]}]
seeds: [3]
train: {batch_size: 8, max_length: 48, epochs: 2, max_train_sentences: 40, max_eval_sentences: 30}
"""


@pytest.mark.slow
def test_few_shot_continues_from_the_zero_shot_checkpoint(db, tmp_path):
    grid = tmp_path / "g.yaml"
    grid.write_text(GRID)
    out = xltui("run", "--grid", str(grid), "--db", db, "--cpu", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    with Session(open_db(db)) as s:
        zero, few = s.exec(select(Run).order_by(Run.id)).all()
        assert (zero.setting, few.setting, few.status) == ("zero-shot", "few-shot", "succeeded")
        assert few.started_at >= zero.finished_at
        assert json.loads(few.spec_json)["init_from"] == zero.spec_hash
        log = s.exec(select(Artifact).where(Artifact.run_id == few.id, Artifact.kind == "fewshot_ids")).one()
        record = json.loads(open(log.path).read())
        assert record["train_split"] == "train" and len(record["train_ids"]) == 5 and len(record["eval_ids"]) == 30
        assert not set(record["train_ids"]) & set(record["eval_ids"])
        f1 = s.exec(select(Result).where(Result.attempt_id == few.attempt_id, Result.metric == "f1")).one()
        assert f1.language == "swa" and f1.split == "test"
        run_log = open(next(a.path for a in s.exec(select(Artifact).where(Artifact.run_id == few.id))
                            if a.kind == "predictions")).read()
        assert run_log.count("\n\n") >= 29  # every evaluation sentence was predicted


def test_languages_without_train_split_carve_k_out_of_test_and_evaluate_on_the_rest():
    spec = RunSpec(task="pos", model_name="tiny", model="tiny", method="full", source=("en",), targets=("yor",),
                   setting="few-shot", k=10, seed=1, data={"en": "ud", "yor": "ud"}, train=TrainParams(),
                   init_from="0" * 16)
    train, evaluation, record = fewshot_split(spec, "yor")
    assert record["train_split"] == "test" and len(train) == 10 and len(evaluation) == 317 - 10
    assert not set(record["train_ids"]) & set(record["eval_ids"])
    assert {s.sent_id for s in train}.isdisjoint(s.sent_id for s in evaluation)
    again = fewshot_split(spec, "yor")[2]
    other = fewshot_split(spec.model_copy(update={"seed": 2}), "yor")[2]
    assert again["train_ids"] == record["train_ids"] and other["train_ids"] != record["train_ids"]
