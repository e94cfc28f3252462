"""The composer's adapter methods without a screen: the model catalogue's adapter entries, the
text fields of a model entry's task adapter and released language adapters, and that editing
them changes those keys alone while everything else of a grid round-trips unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest
import yaml

from engine.grid.expand import expand
from engine.grid.schema import load_grid
from engine.runner.study import check_grid
from engine.spec import Method
from tests.support.env import REPO
from xltui.tui import grid_draft as gd
from xltui.tui.composer_form import model_label, task_adapter_prompt

SWA = "AdapterHub/xlm-roberta-base-sw-wiki_pfeiffer"


def test_methods_and_task_adapters_offered_are_the_engines_and_the_librarys():
    from engine.grid.methods import method_names

    assert gd.METHODS == get_args(Method)
    assert set(gd.TASK_ADAPTERS) <= set(method_names())
    assert {"lora", "ia3", "seq_bn", "prefix_tuning", "compacter"} <= set(gd.TASK_ADAPTERS)


def test_every_catalogue_entry_validates_and_expands(tmp_path: Path):
    d = gd.new_draft("catalogue")
    d.models = [c.entry() for c in gd.MODEL_CHOICES]
    d.targets, d.seeds = ["swa", "yor"], "1"
    path = tmp_path / "catalogue.yaml"
    path.write_text(gd.draft_to_yaml(d))
    specs = {s.model_name: s for s in expand(load_grid(path))}
    assert set(specs) == {c.name for c in gd.MODEL_CHOICES}
    for name in ("lora-minilm", "lora-xlmr"):
        assert specs[name].method == "adapter" and specs[name].task_adapter.config == "lora"
        assert specs[name].task_adapter.options == {"r": 8, "alpha": 16} and specs[name].madx is None
    assert specs["ia3-minilm"].method == "adapter" and specs["ia3-minilm"].task_adapter.config == "ia3"
    madx_lora = specs["madx-lora-minilm"]
    assert madx_lora.method == "madx" and madx_lora.madx.task_adapter.config == "lora"
    released = specs["madx-xlmr-swa"].madx.lang_adapter.pretrained
    assert set(released) == {"swa"} and released["swa"].source == SWA
    assert specs["madx-xlmr"].madx.lang_adapter.pretrained == {}  # the plain variant trains every language
    assert {s.method for s in specs.values()} == set(gd.METHODS)


def test_catalogue_entries_are_fresh_copies():
    choice = next(c for c in gd.MODEL_CHOICES if c.name == "lora-minilm")
    entry = choice.entry()
    entry["task_adapter"]["r"] = 99
    assert choice.entry()["task_adapter"] == {"config": "lora", "r": 8, "alpha": 16}
    assert gd.entry_note(choice.entry()) == choice.note and gd.entry_note(entry) != choice.note


@pytest.mark.parametrize("text, options", [
    ("r=8, alpha=16", {"r": 8, "alpha": 16}),
    ("r=8 alpha=16", {"r": 8, "alpha": 16}),
    ("", {}),
    ("reduction_factor=1.5, non_linearity=relu, original_ln_after=false",
     {"reduction_factor": 1.5, "non_linearity": "relu", "original_ln_after": False}),
    ("r=4, target_modules=[q, v], alpha=8", {"r": 4, "target_modules": ["q", "v"], "alpha": 8}),
    ("r=x", {"r": "x"}),  # stays text: the validator names it
    ("r", {"r": ""}),
])
def test_task_options_text(text, options):
    assert gd.parse_options(text) == options
    assert gd.parse_options(gd.format_options(options)) == options


def test_options_text_is_canonical():
    assert gd.format_options({"r": 8, "alpha": 16, "target_modules": ["q", "v"]}) == \
        "r=8, alpha=16, target_modules=[q, v]"


@pytest.mark.parametrize("text, pretrained", [
    (f"swa={SWA}", {"swa": SWA}),
    (f"swa={SWA}@main, am=/my adapters/am yor=./yor", {"swa": f"{SWA}@main", "am": "/my adapters/am", "yor": "./yor"}),
    ("", {}),
    ("swa", {"swa": ""}),  # stays empty: the validator names it
])
def test_released_adapters_text(text, pretrained):
    assert gd.parse_pretrained(text) == pretrained
    assert gd.parse_pretrained(gd.format_pretrained(pretrained)) == pretrained


def test_editing_an_entrys_adapters_changes_those_keys_alone():
    entry = {"name": "m", "model": "minilm", "method": "madx", "lr": 1e-3,
             "lang_adapter": {"mlm_steps": 12, "text": {"swa": "swa.txt"}},
             "task_adapter": {"reduction_factor": 8}, "leave_out": [5]}
    before = yaml.safe_dump(entry)
    assert gd.task_adapter_of(entry) == ("", {"reduction_factor": 8}) and gd.pretrained_of(entry) == {}

    lora = gd.with_task_adapter(entry, "lora", {"r": 4})
    assert list(lora) == list(entry) and lora["task_adapter"] == {"config": "lora", "r": 4}
    assert gd.task_adapter_of(lora) == ("lora", {"r": 4})
    assert "task_adapter" not in gd.with_task_adapter(entry, "", {})

    loaded = gd.with_pretrained(entry, {"swa": SWA})
    assert loaded["lang_adapter"] == {"mlm_steps": 12, "text": {"swa": "swa.txt"}, "pretrained": {"swa": SWA}}
    assert gd.with_pretrained(loaded, {}) == entry
    assert "lang_adapter" not in gd.with_pretrained({"name": "x", "lang_adapter": {"pretrained": {"a": "b"}}}, {})
    assert yaml.safe_dump(entry) == before  # the entry itself never changes


def test_same_method_and_prompts():
    assert gd.same_method("madx", "", "seq_bn") and not gd.same_method("madx", "", "lora")
    assert not gd.same_method("adapter", "", "seq_bn") and gd.same_method("adapter", "ia3", "ia3")
    assert task_adapter_prompt("madx") == "default (seq_bn)" and task_adapter_prompt("adapter") == "pick a method"


def test_names_and_labels_of_adapter_entries():
    assert gd.model_alias("xlm-roberta-base", "adapter", config="lora") == "lora-xlmr"
    assert gd.model_alias("minilm", "adapter", {"lora-minilm"}, "lora") == "lora-minilm-2"
    assert gd.model_alias("/m/enc", "adapter", config="compacter++") == "compacter-enc"
    assert gd.model_alias("xlm-roberta-base", "madx") == "madx-xlmr"
    labels = {c.name: model_label(c.entry()) for c in gd.MODEL_CHOICES}
    assert labels["tiny"] == "tiny: tiny (full)" and labels["madx-minilm"] == "madx-minilm: minilm (madx)"
    assert labels["lora-xlmr"] == "lora-xlmr: xlm-roberta-base (adapter lora)"
    assert labels["madx-lora-minilm"] == "madx-lora-minilm: minilm (madx+lora)"
    assert labels["madx-xlmr-swa"] == "madx-xlmr-swa: xlm-roberta-base (madx, released swa)"


@pytest.mark.parametrize("name", ["methods-offline.yaml", "paper.yaml"])
def test_hand_written_method_grids_load_back_as_the_same_runs(name):
    text = (REPO / "configs" / name).read_text()
    draft = gd.yaml_to_draft(text)
    again = gd.draft_to_yaml(draft)
    assert yaml.safe_load(again) == yaml.safe_load(text)
    assert gd.draft_to_yaml(gd.yaml_to_draft(again)) == again
    first, second = check_grid(f"configs/{name}", text), check_grid(f"configs/{name}", again)
    assert first.ok and second.spec_hashes == first.spec_hashes

    # what the adapter fields show, written back as shown, changes nothing
    shown = [gd.with_pretrained(gd.with_task_adapter(m, *gd.task_adapter_of(m)), gd.pretrained_of(m))
             for m in draft.models]
    assert shown == draft.models


def test_an_edited_entry_is_written_and_validated(tmp_path: Path):
    d = gd.new_draft("edited")
    d.targets, d.seeds = ["swa", "yor"], "1"
    madx = next(c for c in gd.MODEL_CHOICES if c.name == "madx-xlmr").entry()
    d.models = [gd.with_pretrained(madx, {"swa": SWA}),
                gd.with_task_adapter({"name": "pt", "model": "minilm", "method": "adapter"}, "prefix_tuning",
                                     {"prefix_length": 10})]
    text = gd.draft_to_yaml(d)
    assert f"  - {{name: madx-xlmr, model: xlm-roberta-base, method: madx, lang_adapter: {{pretrained: {{swa: {SWA}}}}}}}" \
        in text.splitlines()
    assert "  - {name: pt, model: minilm, method: adapter, task_adapter: {config: prefix_tuning, prefix_length: 10}}" \
        in text.splitlines()
    path = tmp_path / "edited.yaml"
    path.write_text(text)
    specs = {s.model_name: s for s in expand(load_grid(path))}
    assert specs["pt"].task_adapter.config == "prefix_tuning" and specs["pt"].task_adapter.options == {"prefix_length": 10}
    assert specs["madx-xlmr"].madx.lang_adapter.pretrained["swa"].source == SWA

    d.models[1] = gd.with_task_adapter(d.models[1], "lorax", {})
    d.models[0] = gd.with_pretrained(d.models[0], {"yor": ""})
    errors = check_grid("configs/edited.yaml", gd.draft_to_yaml(d)).errors
    assert errors[0].startswith("configs/edited.yaml:7: models[0].lang_adapter.pretrained.yor: ") and \
        errors[0].endswith("holds no adapter (no adapter_config.json)")
    assert errors[1].startswith("configs/edited.yaml:8: models[1]: unknown adapter method 'lorax'; the adapters "
                                "library offers: ")
    d.models[0] = gd.with_pretrained(d.models[0], {"hau": SWA})
    d.models[1] = gd.with_task_adapter(d.models[1], "ia3", {})  # cross-checks follow valid entries
    errors = check_grid("configs/edited.yaml", gd.draft_to_yaml(d)).errors
    assert errors[0] == ("configs/edited.yaml:7: models[0].lang_adapter.pretrained.hau: 'hau' is no source or target "
                         "language of this grid (en, swa, yor), so this adapter would never be loaded"), errors
