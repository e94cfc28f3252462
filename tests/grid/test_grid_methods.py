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


def test_any_library_method_is_a_task_adapter_alone_or_on_language_adapters(tmp_path: Path, fake_data: Path) -> None:
    text = edit(BASE, {9: "  - name: lora", 10: "    model: minilm",
                       11: "    method: adapter\n    task_adapter: {config: lora, r: 8, alpha: 16}\n"
                           "  - name: madx-ia3\n    model: minilm\n    method: madx\n    task_adapter: {config: ia3}"})
    specs = {s.model_name: s for s in expand(load_grid(write(tmp_path, text))) if s.seed == 1}
    lora, stacked = specs["lora"], specs["madx-ia3"]
    assert lora.method == "adapter" and lora.madx is None and lora.train.lr == 1e-4
    assert lora.task_adapter.config == "lora" and lora.task_adapter.options == {"r": 8, "alpha": 16}
    assert lora.method_label == "lora alpha=16 r=8" and stacked.method_label == "madx+ia3"
    assert stacked.madx.task_adapter.config == "ia3" and stacked.uses_adapters


def test_madx_written_with_its_default_method_keeps_the_spec_it_always_had(tmp_path: Path, fake_data: Path) -> None:
    entry = "  - name: madx\n    model: minilm\n    method: madx"
    hashes = []
    for extra in ("", "\n    task_adapter: {reduction_factor: 16}", "\n    task_adapter: {config: seq_bn}",
                  "\n    task_adapter: {config: seq_bn, reduction_factor: 16.0}"):
        text = edit(BASE, {9: entry + extra, 10: None, 11: None})
        (spec, *_) = [s for s in expand(load_grid(write(tmp_path, text))) if s.model_name == "madx"]
        assert spec.madx.task_adapter is None and spec.method_label == "madx"
        assert "task_adapter" not in spec.canonical_json() and "pretrained" not in spec.canonical_json()
        hashes.append(spec.spec_hash())
    assert len(set(hashes)) == 1


def test_methods_and_options_are_checked_by_the_library_before_queueing(tmp_path: Path, fake_data: Path) -> None:
    cases = [
        ("method: adapter\n    task_adapter: {config: lorra}", "unknown adapter method 'lorra'; the adapters "
         "library offers: pfeiffer, houlsby"),
        ("method: adapter\n    task_adapter: {config: lora, rank: 8}", "lora has no option 'rank'; its options: "),
        ("method: adapter\n    task_adapter: {config: lora, r: eight}", "lora: r: expected a number, got 'eight'"),
        ("method: adapter\n    task_adapter: {config: lora, r: 2.5}", "lora: r: expected an integer, got 2.5"),
        ("method: adapter", "method adapter needs task_adapter: {config: NAME, ...}"),
        ("method: adapter\n    task_adapter: {config: lora}\n    lang_adapter: {mlm_steps: 5}",
         "lang_adapter only applies to method madx"),
        ("method: adapter\n    task_adapter: {config: prompt_tuning}\n    leave_out: [5]",
         "leave_out does not apply to prompt_tuning"),
        ("method: madx\n    task_adapter: {reduction_factor: 0}", "reduction_factor: expected a number > 0"),
    ]
    for i, (lines, message) in enumerate(cases):
        text = edit(BASE, {9: "  - name: m", 10: "    model: minilm", 11: "    " + lines})
        issue = single_issue(write(tmp_path, text, f"g{i}.yaml"))
        assert issue.line == 9 and issue.field == "models[1]", issue
        assert message in issue.message, issue
    rank = single_issue(tmp_path / "g1.yaml")
    assert "r, " in rank.message and "alpha" in rank.message  # the options it does have
