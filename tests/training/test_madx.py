"""MAD-X with the adapters library on the real MiniLM encoder and real MasakhaNER text:
language adapters train with a frozen base, the stack order trap, and adapter swaps."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.data.conll import read_conll
from engine.spec import LangAdapterParams, LangAdapterSpec
from engine.training.madx import TASK_ADAPTER, activate, base_checksum, build_task_model, train_language_adapter
from engine.training.modelzoo import minilm_dir
from tests.support.env import DATA
from tests.support.specs import adapter_spec

LABELS = ["O", "B-LOC", "B-ORG", "B-PER", "I-LOC", "I-ORG", "I-PER"]
PARAMS = LangAdapterParams(mlm_steps=6, batch_size=8, max_length=48)


def la_spec(lang: str) -> LangAdapterSpec:
    return LangAdapterSpec(model="minilm", language=lang, text="ner:masakhaner", adapter=PARAMS, seed=1)


@pytest.fixture(scope="module")
def lang_adapters(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("la")
    return {lang: train_language_adapter(
        la_spec(lang), [s.tokens for s in read_conll(DATA / "ner" / lang / "train.txt", limit=64)],
        out / lang, "cpu", log=lambda _: None) for lang in ("en", "swa")}


@pytest.mark.slow
def test_language_adapter_training_leaves_the_base_frozen(tmp_path: Path):
    from adapters import AutoAdapterModel

    before = base_checksum(AutoAdapterModel.from_pretrained(str(minilm_dir())))
    path = train_language_adapter(la_spec("yor"), [s.tokens for s in read_conll(DATA / "ner/yor/train.txt", limit=32)],
                                  tmp_path / "yor", "cpu", log=lambda _: None)
    assert (path / "adapter_config.json").is_file() and (path / "pytorch_adapter.bin").is_file()
    model = build_task_model(adapter_spec(source=("yor",)), LABELS, {"yor": path})
    assert base_checksum(model) == pytest.approx(before, rel=0, abs=0)


@pytest.mark.slow
def test_task_training_keeps_the_language_adapter_in_the_stack(lang_adapters):
    model = build_task_model(adapter_spec(), LABELS, lang_adapters)
    assert str(model.active_adapters) == f"Stack[en, {TASK_ADAPTER}]"
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(f"adapters.{TASK_ADAPTER}." in n or n.startswith("heads.") for n in trainable)
    # the trap the library sets: train_adapter() after the stack silently drops the language adapter
    model.train_adapter(TASK_ADAPTER)
    assert "en" not in str(model.active_adapters)


@pytest.mark.slow
def test_swapping_the_language_adapter_changes_predictions(lang_adapters):
    model = build_task_model(adapter_spec(), LABELS, lang_adapters).eval()
    x = {"input_ids": torch.tensor([[101, 7592, 2088, 1999, 14397, 102]]), "attention_mask": torch.ones(1, 6, dtype=torch.long)}
    with torch.no_grad():
        en = model(**x).logits
        activate(model, "swa")
        swa = model(**x).logits
    assert not torch.allclose(en, swa)


@pytest.mark.slow
def test_the_aligner_routes_target_text_through_its_adapter_and_switches_back(lang_adapters):
    from engine.spec import AlignParams, MadxParams, RunSpec, TrainParams
    from engine.training.alignment import Aligner, Router

    spec = RunSpec(task="ner", model_name="m", model="minilm", method="madx", source=("en",), targets=("swa",),
                   setting="zero-shot", seed=1, data={"en": "masakhaner", "swa": "masakhaner"},
                   train=TrainParams(max_length=32), madx=MadxParams(), align=AlignParams(weight=1.0, batch_size=8))
    model = build_task_model(adapter_spec(), LABELS, lang_adapters).eval()
    x = {"input_ids": torch.tensor([[101, 7592, 2088, 102]]), "attention_mask": torch.ones(1, 4, dtype=torch.long)}
    gaps = {}
    for name, switch in (("routed", lambda lang: activate(model, lang)), ("not routed", lambda _lang: None)):
        router = Router(switch, current="en")
        aligner = Aligner(model_tokenizer(), spec, router, log=lambda _: None)
        with torch.no_grad():
            gaps[name] = aligner(model, x, model(**x, output_hidden_states=True)).item()
        assert str(model.active_adapters) == f"Stack[en, {TASK_ADAPTER}]" and router.current == "en"
    assert gaps["routed"] != pytest.approx(gaps["not routed"], abs=1e-6)


def model_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(minilm_dir()))


@pytest.mark.slow
def test_a_script_the_vocabulary_lacks_fails_clearly_or_warns(tmp_path: Path):
    """MiniLM's English vocabulary turns every Amharic (Ge'ez) word into [UNK], which MLM never
    masks: the run stops with a clear error instead of a NaN loss; a text that is mostly [UNK]
    trains on what is left, with a warning."""
    from engine.data.refs import DataError

    amharic = [s.tokens for s in read_conll(DATA / "ner/am/train.txt", limit=64)]
    with pytest.raises(DataError, match=r"language adapter amh: no batch of its text has a token to mask "
                                        r"\(100% of its tokens are \[UNK\]\)"):
        train_language_adapter(la_spec("amh"), amharic, tmp_path / "amh", "cpu", log=lambda _: None)
    lines: list[str] = []
    mixed = [(*s, "Addis", "Ababa", "2019") for s in amharic]
    path = train_language_adapter(la_spec("amh"), mixed, tmp_path / "mixed", "cpu", log=lines.append)
    assert (path / "adapter_config.json").is_file()
    assert any(line.startswith("warning: ") and "of the amh text is [UNK]" in line for line in lines), lines
    assert "nan" not in lines[-1].lower(), lines
