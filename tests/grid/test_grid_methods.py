"""Grid options of the methods and settings: MAD-X entries, few-shot K values, and the
text each language adapter trains on."""

from __future__ import annotations

from pathlib import Path

from engine.grid.expand import expand
from engine.grid.schema import load_grid
from tests.support.grids import BASE, edit, single_issue, write


def test_madx_entries_expand_with_adapter_options_and_their_own_lr(tmp_path: Path, fake_data: Path) -> None:
    from engine.runner.plan import lang_adapter_specs

    text = edit(BASE, {9: "  - name: madx", 10: "    model: xlm-roberta-base",
                       11: "    method: madx\n    lang_adapter: {mlm_steps: 500}\n    leave_out: [11]"})
    specs = [s for s in expand(load_grid(write(tmp_path, text))) if s.model_name == "madx"]
    assert len(specs) == 2 and all(s.madx is not None for s in specs)
    first = specs[0]
    assert first.train.lr == 1e-4 and first.madx.leave_out == (11,) and first.madx.task_reduction_factor == 16
    assert first.madx.lang_adapter.mlm_steps == 500 and first.madx.lang_adapter.reduction_factor == 2
    needs = [lang_adapter_specs(s) for s in specs]
    assert set(needs[0]) == {"en", "swa", "yor"}
    assert needs[0]["swa"].text == "ner:masakhaner" and needs[0]["swa"].seed == 1
    assert needs[0]["swa"].spec_hash() != needs[1]["swa"].spec_hash()  # one adapter per seed


def test_few_shot_runs_are_per_k_and_target_and_continue_from_zero_shot(tmp_path: Path, fake_data: Path) -> None:
    text = edit(BASE, {12: "settings: [{few-shot: [10, 100]}]", 13: "seeds: [1]"})
    specs = [s for s in expand(load_grid(write(tmp_path, text))) if s.model_name == "tiny"]
    parent, *children = specs
    assert (parent.setting, parent.targets, parent.k) == ("zero-shot", ("swa", "yor"), None)  # always included
    assert [(c.k, c.targets) for c in children] == [(10, ("swa",)), (10, ("yor",)), (100, ("swa",)), (100, ("yor",))]
    assert all(c.setting == "few-shot" and c.init_from == parent.spec_hash() for c in children)
    assert all(c.data.keys() == {"en", c.targets[0]} for c in children)
    excluded = edit(BASE, {12: "settings: [zero-shot, {few-shot: [10]}]", 13: "seeds: [1]"}) + (
        "exclude:\n  - {setting: few-shot, target: yor}\n")
    tiny = [s for s in expand(load_grid(write(tmp_path, excluded, "x.yaml"))) if s.model_name == "tiny"]
    assert [(s.setting, s.targets) for s in tiny] == [("zero-shot", ("swa", "yor")), ("few-shot", ("swa",))]


def test_lang_adapter_text_files_resolve_against_the_grid_and_must_exist(tmp_path: Path, fake_data: Path) -> None:
    from engine.runner.plan import lang_adapter_specs

    (tmp_path / "yor.txt").write_text("Ọmọ náà lọ sí ilé .\n")
    text = edit(BASE, {9: "  - name: madx", 10: "    model: xlm-roberta-base",
                       11: "    method: madx\n    lang_adapter: {text: {yor: yor.txt, swa: 'ner:masakhaner'}}"})
    spec = next(s for s in expand(load_grid(write(tmp_path, text))) if s.model_name == "madx")
    needs = lang_adapter_specs(spec)
    assert needs["yor"].text == f"file:{tmp_path / 'yor.txt'}" and needs["swa"].text == "ner:masakhaner"
    assert needs["en"].text == "ner:masakhaner"  # default: the language's own task data
    missing = text.replace("yor.txt", "nope.txt")
    issue = single_issue(write(tmp_path, missing, "m.yaml"))
    assert issue.line == 12 and "no file" in issue.message and "nope.txt" in issue.message
