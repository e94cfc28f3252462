"""MAD-X through the whole engine: `xltui run --grid` trains each language adapter as
its own run, then the task adapter, and a second study reuses the adapters."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from engine.runner.plan import queue_runs
from engine.store.db import open_db
from engine.store.schema import Artifact, Result, Run
from engine.training.launcher import ADAPTERS_NOTE
from tests.support.env import xltui

GRID = """\
study: {study}
task: ner
source: en
targets: [swa]
data: {{ner: masakhaner}}
models:
  - name: madx
    model: minilm
    method: madx
    lang_adapter: {{mlm_steps: 4, batch_size: 8, max_length: 48}}
    task_adapter: {{reduction_factor: 8}}
settings: [zero-shot]
seeds: [1]
train: {{batch_size: 8, max_length: 48, epochs: 1, max_train_sentences: 32, max_eval_sentences: 24}}
"""


@pytest.mark.slow
def test_madx_study_trains_adapters_once_and_reuses_them(db, tmp_path):
    first = tmp_path / "first.yaml"
    first.write_text(GRID.format(study="first"))
    out = xltui("run", "--grid", str(first), "--db", db, "--cpu", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    # the warm launcher imported adapters for its first run, and only then (tests/runner/test_warm.py: never
    # for full fine-tuning)
    assert (out.stdout + out.stderr).count(ADAPTERS_NOTE) == 1, out.stdout + out.stderr
    engine = open_db(db)
    with Session(engine) as s:
        runs = s.exec(select(Run).order_by(Run.id)).all()
        assert [(r.method, r.source, r.status) for r in runs] == [
            ("madx", "en", "succeeded"), ("lang-adapter", "en", "succeeded"), ("lang-adapter", "swa", "succeeded")]
        task = runs[0]
        assert task.started_at > max(r.finished_at for r in runs[1:])  # it waited for its adapters
        f1 = s.exec(select(Result).where(Result.attempt_id == task.attempt_id, Result.language == "swa",
                                         Result.metric == "f1")).one()
        assert 0.0 <= f1.value <= 1.0
        cost = {r.metric: r.value for r in s.exec(select(Result).where(Result.attempt_id == task.attempt_id,
                                                                        Result.split == "train"))}
        # what MAD-X costs: only the task adapter and its head train (the base and language adapters are frozen)
        assert 0 < cost["n_trainable"] < 0.05 * cost["n_params"]
        assert cost["trainable_share"] == pytest.approx(cost["n_trainable"] / cost["n_params"])
        kinds = {a.kind for a in s.exec(select(Artifact).where(Artifact.run_id == task.id))}
        assert "task_adapter" in kinds

    second = tmp_path / "second.yaml"
    second.write_text(GRID.format(study="second"))
    out = xltui("run", "--grid", str(second), "--db", db, "--cpu", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    with Session(engine) as s:
        adapters = s.exec(select(Run).where(Run.method == "lang-adapter")).all()
        assert len(adapters) == 2 and all(r.attempts == 1 for r in adapters)  # reused, never retrained
        done = s.exec(select(Run.study_id).where(Run.method == "madx", Run.status == "succeeded")).all()
        assert len(done) == 2 and len(set(done)) == 2  # each study has its own task run


def test_status_shows_which_runs_wait_on_which_language_adapter(db, tmp_path):
    from engine.grid.expand import expand
    from engine.grid.schema import load_grid

    grid = tmp_path / "g.yaml"
    grid.write_text(GRID.format(study="waiting"))
    spec = load_grid(grid)
    (run_id,) = queue_runs(open_db(db), spec.study, expand(spec)).new
    out = xltui("status", "--db", db, env={"COLUMNS": "160"})
    assert out.returncode == 0, out.stderr
    line = next(line for line in out.stdout.splitlines() if line.strip().startswith(str(run_id)) and "waits" not in line
                and "lang-adapter en" in line)
    assert "lang-adapter swa (queued)" in line


@pytest.mark.slow
def test_madx_few_shot_continues_the_task_adapter_with_the_target_adapter(db, tmp_path):
    grid = tmp_path / "few.yaml"
    grid.write_text(GRID.format(study="few").replace("settings: [zero-shot]", "settings: [{few-shot: [4]}]"))
    out = xltui("run", "--grid", str(grid), "--db", db, "--cpu", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    with Session(open_db(db)) as s:
        few = s.exec(select(Run).where(Run.setting == "few-shot")).one()
        assert few.status == "succeeded" and few.targets == "swa"
        assert s.exec(select(Result).where(Result.attempt_id == few.attempt_id, Result.metric == "f1")).one()
        assert len(s.exec(select(Run).where(Run.method == "lang-adapter")).all()) == 2  # en and swa, once each


@pytest.mark.slow
def test_released_adapters_are_loaded_by_the_run_and_recorded(db, tmp_path, monkeypatch):
    """Swahili's adapter from a directory, Yoruba's from the (local) hub cache at its commit: neither gets
    a language-adapter run; the task run loads both and its run_info says what was loaded."""
    import json

    from tests.support.released import fake_hub_cache, legacy_copy, train_released

    swa = train_released(tmp_path / "swa", "swa")
    yor = legacy_copy(train_released(tmp_path / "yor-modern", "yor"), tmp_path / "yor")
    repo, commit = fake_hub_cache(tmp_path / "hub", "tests/minilm-yor-adapter", yor, monkeypatch)
    grid = tmp_path / "released.yaml"
    grid.write_text(GRID.format(study="released").replace("targets: [swa]", "targets: [swa, yor]").replace(
        "lang_adapter: {mlm_steps: 4, batch_size: 8, max_length: 48}",
        f"lang_adapter: {{mlm_steps: 4, batch_size: 8, max_length: 48, pretrained: {{swa: {swa}, yor: {repo}}}}}"))
    out = xltui("run", "--grid", str(grid), "--db", db, "--cpu", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"loaded swa ({swa}, sha256:" in out.stdout and f"loaded yor ({repo}@{commit[:12]})" in out.stdout
    with Session(open_db(db)) as s:
        runs = s.exec(select(Run).order_by(Run.id)).all()
        assert [(r.method, r.source, r.status) for r in runs] == [("madx", "en", "succeeded"),
                                                                  ("lang-adapter", "en", "succeeded")]
        info = s.exec(select(Artifact).where(Artifact.run_id == runs[0].id, Artifact.kind == "run_info")).one()
    loaded = json.loads(open(info.path).read())["lang_adapters"]
    assert loaded["swa"]["released"] == str(swa) and loaded["swa"]["revision"].startswith("sha256:")
    assert loaded["yor"] == {"released": repo, "revision": commit, "path": loaded["yor"]["path"]}
    assert loaded["yor"]["path"].endswith(f"snapshots/{commit}") and set(loaded["en"]) == {"trained"}
