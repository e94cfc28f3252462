"""Grid files: expansion into RunSpecs, hash identity, excludes, and every error path.

Validation tests run against a small fake data catalog in tmp_path (so they need no
corpus); the realistic expansion test uses the real MasakhaNER data when present.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.grid.expand import expand
from engine.grid.schema import Grid, load_grid
from engine.grid.yamlfile import GridError
from engine.spec import TrainParams
from tests.support.env import make_conll
from tests.support.grids import BASE, REPO, edit, issues_of, single_issue, write

# Line numbers matter: error tests edit lines of this grid by number.


@pytest.fixture
def real_data(monkeypatch: pytest.MonkeyPatch) -> Path:
    root = (REPO / os.environ.get("XLTUI_DATA", "../shared/data")).resolve()
    assert (root / "ner" / "en" / "train.txt").is_file(), f"real data not found under {root}: set XLTUI_DATA"
    monkeypatch.setenv("XLTUI_DATA", str(root))
    return root


# ---------------------------------------------------------------- expansion


REALISTIC = """\
study: africa-ner
task: ner
source: en
targets: [swa, yor, hau]
data: {ner: masakhaner}
models:
  - {name: tiny, model: tiny, method: full, lr: 5e-4}
  - {name: xlmr, model: xlm-roberta-base, method: full}
  - {name: mbert, model: bert-base-multilingual-cased, method: full, batch_size: 16}
settings: [zero-shot]
seeds: [1, 2, 3]
train: {lr: 2e-5, batch_size: 32, max_length: 128, epochs: 10, patience: 3}
"""


def test_expand_realistic_grid(tmp_path: Path, real_data: Path) -> None:
    grid = load_grid(write(tmp_path, REALISTIC))
    specs = expand(grid)
    assert len(specs) == 3 * 3  # models x seeds; zero-shot evaluates all targets in one run
    assert [(s.model_name, s.seed) for s in specs] == [
        (m, seed) for m in ("tiny", "xlmr", "mbert") for seed in (1, 2, 3)]
    first = specs[0]
    assert first.task == "ner" and first.setting == "zero-shot" and first.method == "full"
    assert first.model == "tiny" and first.source == ("en",) and first.targets == ("hau", "swa", "yor")  # sorted: order is no identity
    assert first.data == {"en": "masakhaner", "swa": "masakhaner", "yor": "masakhaner", "hau": "masakhaner"}
    assert first.train.lr == 5e-4  # YAML 1.1 reads 5e-4 as a string; it must still become a float
    assert specs[3].model == "xlm-roberta-base" and specs[3].train.lr == 2e-5
    assert specs[6].train.batch_size == 16
    assert len({s.spec_hash() for s in specs}) == 9


def test_scalar_forms_and_list_source(tmp_path: Path, fake_data: Path) -> None:
    text = edit(BASE, {3: "source: [en, hau]", 12: "settings: zero-shot", 2: "task: [ner]"})
    specs = expand(load_grid(write(tmp_path, text)))
    assert len(specs) == 4
    assert specs[0].source == ("en", "hau") and set(specs[0].data) == {"en", "hau", "swa", "yor"}


def test_local_data_dir_and_model_dir_are_stored_absolute(tmp_path: Path, fake_data: Path) -> None:
    make_conll(tmp_path / "grids" / "corpus" / "en")
    make_conll(tmp_path / "grids" / "corpus" / "swa", ("test",))
    make_conll(tmp_path / "grids" / "corpus" / "yor", ("test",))
    (tmp_path / "grids" / "ckpt" / "mine").mkdir(parents=True)
    (tmp_path / "grids" / "ckpt" / "mine" / "config.json").write_text("{}")
    text = edit(BASE, {6: "  ner: ./corpus", 10: "    model: ckpt/mine"})
    specs = expand(load_grid(write(tmp_path, text, "grids/g.yaml")))
    corpus = str((tmp_path / "grids" / "corpus").resolve())
    assert specs[0].data == {"en": corpus, "swa": corpus, "yor": corpus}
    assert specs[2].model == str((tmp_path / "grids" / "ckpt" / "mine").resolve())


def test_per_language_data_mapping(tmp_path: Path, fake_data: Path) -> None:
    make_conll(tmp_path / "yor_local", ("test",))
    text = edit(BASE, {6: "  ner: {en: masakhaner, swa: masakhaner, yor: ./yor_local}"})
    spec = expand(load_grid(write(tmp_path, text)))[0]
    assert spec.data == {"en": "masakhaner", "swa": "masakhaner", "yor": str((tmp_path / "yor_local").resolve())}


def test_precedence_defaults_then_train_then_model(tmp_path: Path, fake_data: Path) -> None:
    text = edit(BASE, {16: "  epochs: 5"})
    tiny, _, xlmr, _ = expand(load_grid(write(tmp_path, text)))
    defaults = TrainParams()
    assert tiny.train.lr == 5e-4 and xlmr.train.lr == 3e-5  # model beats train beats default
    assert tiny.train.epochs == xlmr.train.epochs == 5
    assert tiny.train.patience == xlmr.train.patience == defaults.patience
    assert xlmr.train.batch_size == defaults.batch_size


# ---------------------------------------------------------------- identity


def test_hashes_are_stable_across_loads(tmp_path: Path, fake_data: Path) -> None:
    path = write(tmp_path, BASE)
    first = [s.spec_hash() for s in expand(load_grid(path))]
    assert first == [s.spec_hash() for s in expand(load_grid(path))]
    assert len(set(first)) == 4


def test_changing_a_hyperparameter_changes_only_affected_hashes(tmp_path: Path, fake_data: Path) -> None:
    before = [s.spec_hash() for s in expand(load_grid(write(tmp_path, BASE, "a.yaml")))]
    changed = edit(BASE, {8: "  - {name: tiny, model: tiny, method: full, lr: 1e-3}"})
    after = [s.spec_hash() for s in expand(load_grid(write(tmp_path, changed, "b.yaml")))]
    assert after[:2] != before[:2] and after[0] != after[1]  # tiny runs changed
    assert after[2:] == before[2:]  # xlmr runs untouched


def test_key_and_target_order_do_not_matter(tmp_path: Path, fake_data: Path) -> None:
    reordered = """\
train: {batch_size: 32, lr: 3.0e-5}
seeds: [1, 2]
models:
  - {lr: 5e-4, method: full, model: tiny, name: tiny}
  - {method: full, name: xlmr, model: xlm-roberta-base}
settings: [zero-shot]
data: {ner: masakhaner}
targets: [yor, swa]
source: en
task: ner
study: smoke
"""
    a = [s.spec_hash() for s in expand(load_grid(write(tmp_path, BASE, "a.yaml")))]
    b = [s.spec_hash() for s in expand(load_grid(write(tmp_path, reordered, "b.yaml")))]
    assert a == b


def test_identical_specs_are_deduplicated_in_order(tmp_path: Path, fake_data: Path) -> None:
    text = edit(BASE, {2: "task: [ner, ner]", 12: "settings: [zero-shot, zero-shot]"})
    specs = expand(load_grid(write(tmp_path, text)))
    plain = expand(load_grid(write(tmp_path, BASE, "plain.yaml")))
    assert [s.spec_hash() for s in specs] == [s.spec_hash() for s in plain]


# ---------------------------------------------------------------- exclude


def runs(tmp_path: Path, exclude: str, name: str = "grid.yaml") -> list[tuple[str, int, tuple[str, ...]]]:
    specs = expand(load_grid(write(tmp_path, BASE + "exclude:\n" + exclude, name)))
    return [(s.model_name, s.seed, s.targets) for s in specs]


def test_exclude_model(tmp_path: Path, fake_data: Path) -> None:
    assert runs(tmp_path, "  - {model: xlmr}\n") == [("tiny", 1, ("swa", "yor")), ("tiny", 2, ("swa", "yor"))]


def test_exclude_model_and_seed(tmp_path: Path, fake_data: Path) -> None:
    got = runs(tmp_path, "  - {model: xlmr, seed: 2}\n  - {seed: 1, model: tiny}\n")
    assert got == [("tiny", 2, ("swa", "yor")), ("xlmr", 1, ("swa", "yor"))]


def test_exclude_target_removes_it_from_matching_runs(tmp_path: Path, fake_data: Path) -> None:
    got = runs(tmp_path, "  - {model: tiny, target: yor}\n")
    assert got == [("tiny", 1, ("swa",)), ("tiny", 2, ("swa",)),
                   ("xlmr", 1, ("swa", "yor")), ("xlmr", 2, ("swa", "yor"))]
    spec = expand(load_grid(tmp_path / "grid.yaml"))[0]
    assert set(spec.data) == {"en", "swa"}


def test_exclude_all_targets_drops_the_run(tmp_path: Path, fake_data: Path) -> None:
    got = runs(tmp_path, "  - {model: tiny, target: yor}\n  - {model: tiny, target: swa, seed: 1}\n")
    assert got == [("tiny", 2, ("swa",)), ("xlmr", 1, ("swa", "yor")), ("xlmr", 2, ("swa", "yor"))]


def test_exclude_matching_nothing_is_an_error(tmp_path: Path, fake_data: Path) -> None:
    path = write(tmp_path, BASE + "exclude:\n  - {model: mbert}\n  - {seed: 7, target: fr}\n")
    got = [(i.line, i.field) for i in issues_of(path)]
    assert got == [(18, "exclude[0].model"), (19, "exclude[1].target"), (19, "exclude[1].seed")]
    assert "matches no model of this grid (tiny, xlmr)" in issues_of(path)[0].message


def test_exclude_unknown_key_and_empty_entry(tmp_path: Path, fake_data: Path) -> None:
    path = write(tmp_path, BASE + "exclude:\n  - {models: tiny}\n  - {}\n")
    issues = issues_of(path)
    assert [(i.line, i.field) for i in issues] == [(18, "exclude[0].models"), (19, "exclude[1]")]
    assert "did you mean 'model'?" in issues[0].message
    assert "empty exclude entry" in issues[1].message


# ---------------------------------------------------------------- validation errors


def test_error_format_is_file_line_field_message(tmp_path: Path, fake_data: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, edit(BASE, {13: "seeds: one"}), "configs/x.yaml")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GridError) as info:
        load_grid("configs/x.yaml")
    assert str(info.value) == "configs/x.yaml:13: seeds: expected a list of integers"
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(("change", "line", "field", "message"), [
    ({13: "seeds: [1, two]"}, 13, "seeds[1]", "expected a list of integers"),
    ({13: "seeds:", 14: "  - 1", 15: "  - 2.5", 16: "train: {}"}, 15, "seeds[1]", "expected a list of integers"),
    ({13: "seeds: [1, 1]"}, 13, "seeds[1]", "duplicate 1"),
    ({13: "seeds: []"}, 13, "seeds", "must not be empty"),
    ({1: None}, 2, "study", "required key is missing"),
    ({1: "study: my study"}, 1, "study", "use only letters, digits"),
    ({2: "task: srl"}, 2, "task", "unsupported value 'srl'; allowed: 'ner', 'pos' or 'sentiment'"),
    ({2: "task: [ner, srl]"}, 2, "task[1]", "unsupported value 'srl'"),
    ({2: "task: [ner, pos]"}, 5, "data", "no data given for task 'pos' (e.g. pos: ud)"),
    ({11: "    method: lora"}, 11, "models[1].method", "write method: adapter (alone) or method: madx"),
    ({11: "    method: peft"}, 11, "models[1].method", "unsupported value 'peft'; allowed: 'full', 'madx' or 'adapter'"),
    ({8: "  - {name: tiny, model: tiny, method: madx}"}, 8, "models[0]", "method madx needs a pretrained encoder"),
    ({8: "  - {name: tiny, model: tiny, method: full, leave_out: [11]}"}, 8, "models[0]",
     "leave_out only apply to methods madx and adapter"),
    ({8: "  - {name: tiny, model: tiny, method: lora}"}, 8, "models[0].method", "task_adapter: {config: lora}"),
    ({12: "settings: [zero-shot, few-shot]"}, 12, "settings[1]", "few-shot needs its K values"),
    ({12: "settings: [zero-shot, one-shot]"}, 12, "settings[1]", "unsupported setting 'one-shot'"),
    ({12: "settings: [{few-shot: [10, x]}]"}, 12, "settings[0].few-shot[1]", ""),
    ({12: "settings: [{few-shot: []}]"}, 12, "settings[0].few-shot", ""),
    ({4: "targets: []"}, 4, "targets", "must not be empty"),
    ({4: "targets: [swa, en]"}, 4, "targets[1]", "'en' is also a source language"),
    ({10: "    model: ./models/nope"}, 10, "models[1].model", "does not exist"),
    ({10: "    model: /no/such/dir"}, 10, "models[1].model", "local model directory /no/such/dir does not exist"),
    ({10: "    model: 'not a hub id!'"}, 10, "models[1].model", "is not a preset"),
    ({16: "  batch_size: -1"}, 16, "train.batch_size", "greater than or equal to 1 (got -1)"),
    ({16: "  batchsize: 8"}, 16, "train.batchsize", "did you mean 'batch_size'?"),
    ({8: "  - {name: tiny, model: tiny, method: full, lr: -1}"}, 8, "models[0].lr", "greater than 0"),
    ({8: "  - {name: tiny, model: tiny, method: full, epoch: 3}"}, 8, "models[0].epoch", "did you mean 'epochs'?"),
    ({9: "  - name: tiny"}, 9, "models[1].name", "duplicate model name 'tiny' (already models[0])"),
    ({9: "  - model: xlm-roberta-base", 10: "    lr: 1.0e-4"}, 9, "models[1].name", "required key is missing"),
    ({7: "models: []", 8: None, 9: None, 10: None, 11: None}, 7, "models", "must not be empty"),
    ({16: "  precision: no"}, 16, "train.precision", "YAML reads yes/no/on/off as booleans"),
    ({6: "  srl: masakhaner"}, 6, "data.srl", "unsupported value 'srl'"),
])
def test_validation_error_points_at_line_and_field(tmp_path: Path, fake_data: Path, change: dict[int, str | None],
                                                   line: int, field: str, message: str) -> None:
    issue = single_issue(write(tmp_path, edit(BASE, change)))
    assert (issue.line, issue.field) == (line, field), str(issue)
    assert message in issue.message, str(issue)
    assert issue.file == str(tmp_path / "grid.yaml")


def test_misspelt_top_level_key_gets_a_hint(tmp_path: Path, fake_data: Path) -> None:
    issues = issues_of(write(tmp_path, edit(BASE, {13: "seed: [1, 2]"})))
    assert [(i.line, i.field) for i in issues] == [(1, "seeds"), (13, "seed")]
    assert issues[0].message == "required key is missing"
    assert issues[1].message == "unknown key 'seed'; did you mean 'seeds'?"


def test_unknown_top_level_key_without_close_match_lists_allowed(tmp_path: Path, fake_data: Path) -> None:
    issue = single_issue(write(tmp_path, BASE + "colour: blue\n"))
    assert (issue.line, issue.field) == (17, "colour")
    assert "allowed: study, task, source, targets, data, models, settings, seeds, train, exclude" in issue.message


def test_missing_data_language_in_catalog(tmp_path: Path, fake_data: Path) -> None:
    issue = single_issue(write(tmp_path, edit(BASE, {4: "targets: [swa, zul]"})))
    assert (issue.line, issue.field) == (6, "data.ner")
    assert "no folder for language 'zul'" in issue.message


def test_missing_data_files_in_local_dir(tmp_path: Path, fake_data: Path) -> None:
    make_conll(tmp_path / "corpus" / "en", ("train",))  # no dev.txt for the source
    make_conll(tmp_path / "corpus" / "swa", ("train", "dev"))  # no test.txt for a target
    text = edit(BASE, {6: "  ner: {en: corpus, swa: corpus, yor: ./absent}"})
    issues = issues_of(write(tmp_path, text))
    assert [(i.line, i.field) for i in issues] == [(6, "data.ner.en"), (6, "data.ner.swa"), (6, "data.ner.yor")]
    assert "language 'en' has no dev split" in issues[0].message
    assert "language 'swa' has no test split" in issues[1].message
    assert "absent does not exist" in issues[2].message


def test_language_missing_from_data_mapping(tmp_path: Path, fake_data: Path) -> None:
    text = edit(BASE, {5: "data:", 6: "  ner:\n    en: masakhaner\n    swa: masakhaner"})
    issue = single_issue(write(tmp_path, text))
    assert (issue.line, issue.field) == (6, "data.ner.yor")
    assert issue.message == "no data reference for language 'yor'"


def test_misspelt_catalog_name_gets_a_hint(tmp_path: Path, fake_data: Path) -> None:
    issue = single_issue(write(tmp_path, edit(BASE, {6: "  ner: masakaner"})))
    assert (issue.line, issue.field) == (6, "data.ner")
    assert "does not exist (did you mean 'masakhaner'?)" in issue.message


def test_data_root_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XLTUI_DATA", str(tmp_path / "nowhere"))
    issues = issues_of(write(tmp_path, BASE))
    assert len(issues) == 1 and issues[0].line == 6 and "set XLTUI_DATA" in issues[0].message


def test_several_errors_reported_together(tmp_path: Path, fake_data: Path) -> None:
    text = edit(BASE, {1: "study: 'a b'", 4: "targets: [swa, en]", 11: "    method: lora",
                       13: "seeds: [x]", 16: "  batch_size: -1"}) + "seed: 3\n"
    err = pytest.raises(GridError, load_grid, write(tmp_path, text)).value
    assert [(i.line, i.field) for i in err.issues] == [
        (1, "study"), (4, "targets[1]"), (11, "models[1].method"),
        (13, "seeds[0]"), (16, "train.batch_size"), (17, "seed")]
    assert len(str(err).splitlines()) == 6


def test_grid_is_immutable(tmp_path: Path, fake_data: Path) -> None:
    grid = load_grid(write(tmp_path, BASE))
    assert isinstance(grid, Grid) and grid.task == ("ner",) and grid.seeds == (1, 2)
    with pytest.raises(ValidationError):
        grid.study = "other"  # type: ignore[misc]
