"""Every adapter method a grid may name, end to end through the trainers on MiniLM and real data:
NER and POS, zero-shot then few-shot continuing the zero-shot task adapter, alone (method
``adapter``) and stacked on language adapters (method ``madx``, with released adapters in both
save forms); sentiment's classification head stacked under every method too. The base stays frozen and what trains is exactly what the library counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.runfiles import RunFiles
from engine.tasks import TASKS as TASK_TABLE
from engine.training import fewshot, madx, zeroshot
from engine.training.inputs import RunInputs
from tests.support.released import legacy_copy, train_released
from tests.support.specs import adapter_spec

METHODS = [{"config": "seq_bn", "reduction_factor": 32}, {"config": "lora", "r": 4, "alpha": 8},
           {"config": "prefix_tuning", "prefix_length": 5, "bottleneck_size": 64}, {"config": "ia3"},
           {"config": "compacter"}, {"config": "loreft", "r": 2}, {"config": "prompt_tuning", "prompt_length": 4}]
TASKS = {"ner": ("en", "swa"), "pos": ("en", "yor")}
SENTIMENT = {"sentiment": ("en", "swa")}  # a head per text: stacked under every method (alone adds no new path)
TRAIN = dict(batch_size=8, max_length=32, epochs=1, max_train_sentences=8, max_eval_sentences=6, lr=1e-3)  # one step, one
# batch per evaluation: these tests are of the wiring (what trains, what stays frozen), not of learning


@pytest.fixture(scope="module")
def adapters(tmp_path_factory) -> dict[str, Path]:
    """English trained as a run would; Swahili and Yoruba 'released' (today's form and the legacy one)."""
    root = tmp_path_factory.mktemp("lang")
    return {"en": train_released(root / "en", "en"), "swa": train_released(root / "swa", "swa"),
            "yor": legacy_copy(train_released(root / "yor-modern", "yor"), root / "yor")}


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every model the trainers build, kept to inspect after they return (the real functions run)."""
    models: list = []
    for name in ("build_task_model", "load_task_model"):
        real = getattr(madx, name)

        def keep(*args, _real=real, **kwargs):
            models.append(_real(*args, **kwargs))
            return models[-1]

        monkeypatch.setattr(madx, name, keep)
    return models


def scores(output, language: str, split: str) -> dict[str, float]:
    return {name: value for lang, sp, name, value in output.results if (lang, sp) == (language, split)}


def _check_model(model, fresh_checksum: float, trainable: float) -> None:
    summary = {row["name"]: row for row in model.adapter_summary(as_dict=True)}
    heads = sum(p.numel() for p in model.heads.parameters())
    assert trainable == summary[madx.TASK_ADAPTER]["#param"] + heads  # what the library counts for it
    assert madx.base_checksum(model) == pytest.approx(fresh_checksum, rel=0, abs=0)  # the base is frozen


def _run_both(method: str, task_adapter: dict, task: str, tmp_path: Path, adapters: dict, built: list,
              fresh: float) -> None:
    source, target = {**TASKS, **SENTIMENT}[task]
    released = {target: adapters[target]} if method == "madx" else None
    spec = adapter_spec(method, task_adapter, task=task, source=(source,), targets=(target,), pretrained=released,
                        **TRAIN)
    trained = {"en": str(adapters["en"])} if method == "madx" else {}
    files = RunFiles(tmp_path / "zero")
    out = zeroshot.train_and_evaluate(spec, files, None, "cpu", RunInputs(lang_adapters=trained), log=lambda _: None)
    train = scores(out, source, "train")
    _check_model(built[-1], fresh, train["n_trainable"])
    assert 0 < train["trainable_share"] < 0.2 and train["s_per_step"] > 0 and train["peak_rss_bytes"] > 0
    main = TASK_TABLE[task].main_metric
    assert 0.0 <= scores(out, target, "test")[main] <= 1.0
    assert files.task_adapter.is_dir()
    if method == "madx":  # the target's language adapter was the released one, under the same task adapter
        assert str(built[-1].active_adapters) == f"Stack[{target}, {madx.TASK_ADAPTER}]"

    child = spec.model_copy(update={"setting": "few-shot", "k": 4, "init_from": spec.spec_hash()})
    few = fewshot.train_and_evaluate(child, RunFiles(tmp_path / "few"), None, "cpu",
                                     RunInputs(lang_adapters={}, parent=str(files.task_adapter)), log=lambda _: None)
    _check_model(built[-1], fresh, scores(few, target, "train")["n_trainable"])
    assert 0.0 <= scores(few, target, "test")[main] <= 1.0


@pytest.fixture(scope="module")
def fresh() -> float:
    from adapters import AutoAdapterModel

    return madx.base_checksum(AutoAdapterModel.from_pretrained(madx.base_path("minilm")))


def _name(options: dict) -> str:
    return options["config"]


# two classes, not one more parametrize: xdist (--dist loadscope) gives each class its own worker
@pytest.mark.slow
class TestAlone:
    @pytest.mark.parametrize("task_adapter", METHODS, ids=_name)
    @pytest.mark.parametrize("task", list(TASKS))
    def test_zero_shot_then_few_shot(self, task_adapter, task, tmp_path, built, fresh):
        _run_both("adapter", task_adapter, task, tmp_path, {}, built, fresh)  # no language adapter to stack on


@pytest.mark.slow
class TestOnLanguageAdapters:
    @pytest.mark.parametrize("task_adapter", METHODS, ids=_name)
    @pytest.mark.parametrize("task", [*TASKS, *SENTIMENT])
    def test_zero_shot_then_few_shot(self, task_adapter, task, tmp_path, adapters, built, fresh):
        _run_both("madx", task_adapter, task, tmp_path, adapters, built, fresh)
