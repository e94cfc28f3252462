"""Released language adapters in a grid: checked before anything is queued, recorded in the run's
spec (so a changed adapter is a different run), and never trained."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from engine.grid.expand import expand, language_adapters
from engine.grid.schema import load_grid
from engine.runner.plan import lang_adapter_specs
from tests.support.env import xltui_here
from tests.support.grids import BASE, issues_of, write
from tests.support.released import (
    fake_hub_cache,
    legacy_copy,
    pickled_code,
    safetensors_copy,
    train_released,
    with_config,
)
from tests.support.workers import enqueue_grid

GRID = """\
study: released
task: ner
source: en
targets: [swa, yor]
data:
  ner: masakhaner
models:
  - name: madx
    model: minilm
    method: madx
    lang_adapter:
      mlm_steps: 8
      pretrained: {{swa: {ref}}}
settings: [zero-shot]
seeds: [1]
"""


@pytest.fixture(scope="module")
def modern(tmp_path_factory) -> Path:
    return train_released(tmp_path_factory.mktemp("released") / "swa")


@pytest.fixture
def modern_hub(modern: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """The modern adapter as the local Hugging Face cache holds a downloaded hub repo: (repo id, commit)."""
    return fake_hub_cache(tmp_path / "hub", "tests/minilm-swa-adapter", modern, monkeypatch)


def grid(tmp_path: Path, ref: str, name: str = "grid.yaml") -> Path:
    path = tmp_path / name
    path.write_text(GRID.format(ref=ref))
    return path


@pytest.mark.slow
def test_a_released_directory_in_either_form_is_loaded_not_trained(tmp_path: Path, modern: Path) -> None:
    for form in (modern, legacy_copy(modern, tmp_path / "legacy"), safetensors_copy(modern, tmp_path / "safe")):
        (spec,) = expand(load_grid(grid(tmp_path, str(form))))
        adapter = spec.madx.lang_adapter.pretrained["swa"]
        assert adapter.source == str(form) and adapter.revision.startswith("sha256:")
        assert set(lang_adapter_specs(spec)) == {"en", "yor"}  # no language-adapter run for swa
        assert language_adapters([spec]) == [f"madx: language adapters loaded swa ({form}, {adapter.revision}); "
                                             "trained en, yor"]
    # the trained adapters are the ones any other study of the same settings shares
    (plain,) = expand(load_grid(_write(tmp_path / "plain.yaml", GRID.format(ref="x").replace(
        "      pretrained: {swa: x}\n", ""))))
    assert lang_adapter_specs(plain)["en"].spec_hash() == lang_adapter_specs(spec)["en"].spec_hash()


@pytest.mark.slow
def test_a_changed_adapter_is_a_different_run(tmp_path: Path, modern: Path) -> None:
    import shutil

    copy = shutil.copytree(modern, tmp_path / "copy")
    (before,) = expand(load_grid(grid(tmp_path, "copy")))  # relative to the grid file
    assert before.madx.lang_adapter.pretrained["swa"].source == str(copy)
    config = json.loads((copy / "adapter_config.json").read_text())
    config["version"] = "edited"
    (copy / "adapter_config.json").write_text(json.dumps(config))
    (after,) = expand(load_grid(grid(tmp_path, "copy")))
    assert after.spec_hash() != before.spec_hash()


@pytest.mark.slow
@pytest.mark.parametrize("make, message", [
    (lambda m, d: with_config(m, d, model_type="xlm-roberta"), "was made for a xlm-roberta model, the base is bert"),
    (lambda m, d: with_config(m, d, hidden_size=768), "was made for hidden size 768, the base has 384"),
    (lambda m, d: d.mkdir() or d, "holds no adapter (no adapter_config.json)"),
    (lambda m, d: with_config(m, d) and (d / "pytorch_adapter.bin").unlink() or d, "holds no adapter weights"),
    (pickled_code, "refused, its pickle holds more than tensors"),
])
def test_an_adapter_that_does_not_fit_is_refused_before_queueing(tmp_path: Path, modern: Path, make, message,
                                                                  db: str) -> None:
    enqueue_grid(db, write(tmp_path, BASE, "first.yaml"))
    before = list(sqlite3.connect(db).iterdump())
    folder = make(modern, tmp_path / "bad")
    path = grid(tmp_path, str(folder))
    (issue,) = issues_of(path)
    assert (issue.line, issue.field) == (13, "models[0].lang_adapter.pretrained.swa") or (
        issue.line == 11 and issue.field == "models[0].lang_adapter"), issue
    assert message in issue.message, issue
    out = xltui_here("run", "--grid", str(path), "--db", db)
    assert out.returncode == 2 and message in out.stderr
    assert list(sqlite3.connect(db).iterdump()) == before


@pytest.mark.slow
def test_a_hub_id_is_pinned_to_the_cached_commit_or_named_as_fetched_at_run_time(tmp_path: Path, modern_hub) -> None:
    repo, commit = modern_hub
    (cached,) = expand(load_grid(grid(tmp_path, repo)))
    assert cached.madx.lang_adapter.pretrained["swa"].model_dump() == {"source": repo, "revision": commit}
    assert language_adapters([cached])[0].startswith(f"madx: language adapters loaded swa ({repo}@{commit[:12]})")
    (remote,) = expand(load_grid(grid(tmp_path, "AdapterHub/bert-base-multilingual-cased-sw-wiki_pfeiffer@main")))
    assert remote.madx.lang_adapter.pretrained["swa"].revision == "main"
    assert "not in the local cache: fetched at run time" in language_adapters([remote])[0]
    assert remote.spec_hash() != cached.spec_hash()


def test_a_pretrained_language_outside_the_grid_and_a_bad_reference_are_named(tmp_path: Path) -> None:
    text = GRID.format(ref="org/x").replace("{swa: org/x}", "{swa: org/x, hau: org/y}")
    (issue,) = issues_of(_write(tmp_path / "o.yaml", text))
    assert issue.field == "models[0].lang_adapter.pretrained.hau" and "no source or target language" in issue.message
    (bad,) = issues_of(grid(tmp_path, "'not an id!'", "b.yaml"))
    assert bad.field == "models[0].lang_adapter.pretrained.swa" and "neither a local adapter directory" in bad.message


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
