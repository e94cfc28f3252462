"""Runs that are stopped and resumed end exactly as the same run never stopped (issue 27).

Real worker processes on a real database train tiny models; each interrupted study is
compared with an uninterrupted twin (tests/support/twins.py): every score, the predictions
and weights byte for byte, and the whole loss/dev curve. The interruption is a real signal
at an exact point: ``XLTUI_TEST_SIGNAL_AT`` makes a run that did not resume send it to
itself after a step, after a save, or as a dev evaluation begins (engine.settings), so the
point does not depend on the machine's speed. Bitwise equality holds on the CPU, where the
arithmetic is deterministic.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.settings import CHECKPOINT_EVERY_ENV, KEEP_STATE_ENV, TEST_SIGNAL_ENV
from tests.support.env import run_study, xltui, xltui_bg
from tests.support.twins import differences, stories
from tests.support.workers import attempts, enqueue_grid, last_step, runs

GRID = """\
study: resume
task: ner
source: en
targets: [swa]
data: {ner: masakhaner}
models:
  - {name: tiny, model: tiny, method: full, lr: 1.0e-3}
settings: [zero-shot]
seeds: [1]
train: {batch_size: 8, max_length: 48, epochs: 2, patience: 2, max_train_sentences: 40, max_eval_sentences: 24}
"""  # 5 steps an epoch, 10 in all, a dev evaluation after each epoch


def interrupted(tmp_path: Path, twin: dict, signal_at: str, every: str = "0", **env: str) -> tuple:
    """GRID's one run, stopped at ``signal_at`` and resumed; (its story, its twin's)."""
    (spec_hash, run), = stories(run_study(tmp_path / "study", GRID, tmp_path / "cache",
                                         **{TEST_SIGNAL_ENV: signal_at, CHECKPOINT_EVERY_ENV: every, **env})).items()
    return run, twin[spec_hash]


@pytest.mark.slow
def test_a_run_stopped_by_sigterm_mid_epoch_ends_as_its_twin(tmp_path, twin):
    run, other = interrupted(tmp_path, twin, "step:3:TERM")
    assert run.status == "succeeded" and run.outcomes == ["failed", "succeeded"]
    assert run.resumed == [0, 3]  # saved at the step boundary the signal reached
    assert differences(run, other) == []
    assert len(run.curves["train_loss"]) == 10 and run.files


@pytest.mark.slow
def test_a_run_killed_right_after_a_periodic_save_resumes_from_it(tmp_path, twin):
    run, other = interrupted(tmp_path, twin, "save:4:KILL", every="2")
    assert run.status == "succeeded" and run.outcomes == ["failed", "succeeded"]
    assert run.resumed == [0, 4]
    assert differences(run, other) == []


@pytest.mark.slow
def test_a_run_stopped_during_its_dev_evaluation_evaluates_again_and_goes_on(tmp_path, twin):
    run, other = interrupted(tmp_path, twin, "eval:1:TERM", **{KEEP_STATE_ENV: "1"})
    assert run.resumed == [0, 5]  # every step of epoch 1 done, its evaluation not
    assert differences(run, other) == []
    assert [step for step, _ in run.curves["dev_score"]] == [5, 10]
    (state,) = (tmp_path / "study" / "xltui-artifacts").glob("run-*/state-*")  # asked to keep it: the final state
    assert [p.name for p in state.glob("state-*.pt")] == ["state-000000010.pt"] and list(state.glob("best-*.pt"))


EVERY_TRAINER = """\
study: resume-all
task: ner
source: en
targets: [swa]
data: {ner: masakhaner}
models:
  - {name: tiny, model: tiny, method: full, lr: 1.0e-3}
  - name: madx
    model: minilm
    method: madx
    lang_adapter: {mlm_steps: 6, batch_size: 8, max_length: 48}
    task_adapter: {reduction_factor: 8}
settings: [zero-shot, {few-shot: [10]}]
seeds: [1]
train: {batch_size: 8, max_length: 48, epochs: 2, patience: 2, max_train_sentences: 40, max_eval_sentences: 24}
"""  # language adapters (MLM), full and MAD-X zero-shot, and a few-shot run of each


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The uninterrupted study of every trainer, run once for every test here: GRID's one run is among
    its runs (the same spec, so the same hash)."""
    root = tmp_path_factory.mktemp("twin")
    return stories(run_study(root / "twin", EVERY_TRAINER, root / "cache"))


@pytest.mark.slow
def test_every_trainer_resumes_exactly(tmp_path, twin):
    """Each run of the study (language-adapter MLM, full fine-tuning, MAD-X task adapter, few-shot of
    both) is stopped by SIGTERM after its second step and resumed; every one ends as its twin."""
    runs = stories(run_study(tmp_path / "study", EVERY_TRAINER, tmp_path / "cache",
                             **{TEST_SIGNAL_ENV: "step:2:TERM", CHECKPOINT_EVERY_ENV: "0"}))
    assert len(runs) == 6 and set(runs) == set(twin)
    for spec_hash, run in runs.items():
        assert run.status == "succeeded" and run.resumed == [0, 2], (spec_hash, run.resumed, run.outcomes)
        assert differences(run, twin[spec_hash]) == [], spec_hash
        assert run.files, spec_hash  # predictions and weights were compared


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["none", "corrupted"])
def test_a_stopped_workers_run_continues_on_the_next_worker_unless_its_state_is_bad(db, tiny_grid, tmp_path, damage):
    """SIGTERM to the worker (a shutdown), sent by the run after its step 2 (which then waits for the stop
    the worker sends it): the run saves at that step and is re-queued; the next worker continues it there.
    A state corrupted meanwhile is refused with the reason, and the run starts over."""
    (run_id,) = enqueue_grid(db, tiny_grid(epochs=2, patience=2, train=40, eval=16))  # 10 steps
    worker = xltui_bg("worker", "--db", db, "--cpu", "--poll", "0.1", log=tmp_path / "w1.log",
                      env={CHECKPOINT_EVERY_ENV: "0", TEST_SIGNAL_ENV: "step:2:TERM:worker"})
    assert worker.wait(timeout=300) == 0, (tmp_path / "w1.log").read_text()
    first = attempts(db, run_id)[0]
    (state,) = (tmp_path / "xltui-artifacts").glob(f"run-{run_id}-*/state-*")
    saved = first.saved_step  # recorded by the run once the state was on disk
    assert (state / f"state-{saved:09d}.pt").is_file()
    assert first.outcome == "requeued" and saved == last_step(db, first.id) == 2  # nothing after it lost
    if damage == "corrupted":
        (pt,) = state.glob("state-*.pt")
        pt.write_bytes(pt.read_bytes()[:100] + b"!" + pt.read_bytes()[101:])
    xltui("worker", "--db", db, "--cpu", "--exit-when-idle", check=True, env={CHECKPOINT_EVERY_ENV: "0"})
    second = attempts(db, run_id)[1]
    assert runs(db)[0].status == "succeeded" and not state.exists()  # the state has served: removed
    log = Path(second.log_path).read_text()
    if damage == "none":
        assert (second.resumed_step, second.redone_steps) == (saved, 0)
        assert f"resumed at step {saved} of 10" in log
    else:
        assert (second.resumed_step, second.redone_steps) == (0, saved)  # started over: every step redone
        assert "not used: state-" in log and "does not match its checksum (corrupted)" in log, log
