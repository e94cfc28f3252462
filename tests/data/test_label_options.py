"""The grid's explicit label map and unknown-tag policy, from the pure mapping to a real run
on MasakhaNER Swahili (which has DATE tags the English source lacks)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.data.conll import read_conll
from engine.data.labels import LabelMap, relabel
from engine.data.refs import DataError
from engine.grid.schema import load_grid
from engine.grid.yamlfile import GridError
from engine.runfiles import RunFiles
from engine.spec import LabelOptions, RunSpec, TrainParams
from engine.training.tagging_data import unknown_tags
from engine.training.zeroshot import train_and_evaluate
from tests.support.env import DATA


def test_relabel_maps_types_with_their_prefix_and_whole_tags():
    tags = ["B-DATE", "I-DATE", "O", "B-MISC", "I-MISC", "B-PER", "PROPN"]
    out, n = relabel(tags, {"DATE": "O", "MISC": "ORG", "PROPN": "NOUN"})
    assert out == ["O", "O", "O", "B-ORG", "I-ORG", "B-PER", "NOUN"]
    assert n == 5
    assert relabel(["B-DATE"], {"B-DATE": "B-TIME"}) == (["B-TIME"], 1)
    assert relabel(tags, {}) == (tags, 0)


YEAR = re.compile(r"(1[89]|20)[0-9][0-9]")


@pytest.fixture
def swa_with_dates(tmp_path: Path) -> Path:
    """Real Swahili test data with years tagged B-DATE, as in the original MasakhaNER 2.0 (the
    shared copy dropped DATE so every language has the English label set)."""
    folder = tmp_path / "swa-dates" / "swa"
    folder.mkdir(parents=True)
    lines = []
    for s in read_conll(DATA / "ner/swa/test.txt", limit=200):
        tags = ["B-DATE" if tag == "O" and YEAR.fullmatch(tok) else tag for tok, tag in zip(s.tokens, s.tags)]
        lines += [f"{tok} {tag}" for tok, tag in zip(s.tokens, tags)] + [""]
    (folder / "test.txt").write_text("\n".join(lines), encoding="utf-8")
    return folder.parent


def test_a_target_with_dates_has_tags_the_english_source_lacks(swa_with_dates: Path):
    en = LabelMap.from_tags(t for s in read_conll(DATA / "ner/en/train.txt") for t in s.tags)
    unknown = unknown_tags(read_conll(swa_with_dates / "swa/test.txt"), en)
    assert set(unknown) == {"B-DATE"} and unknown["B-DATE"] >= 5


def spec(labels: LabelOptions, swa: Path) -> RunSpec:
    return RunSpec(task="ner", model_name="tiny", model="tiny", method="full", source=("en",), targets=("swa",),
                   setting="zero-shot", seed=1, data={"en": "masakhaner", "swa": str(swa)}, labels=labels,
                   train=TrainParams(lr=1e-3, batch_size=8, max_length=48, epochs=1, max_train_sentences=32,
                                     max_eval_sentences=200))


def test_unknown_error_stops_before_training_and_names_the_tags(tmp_path: Path, swa_with_dates: Path):
    with pytest.raises(DataError, match=r"swa test: tags not in the source label set .*B-DATE \(\d+\).*labels\.map"):
        train_and_evaluate(spec(LabelOptions(unknown="error"), swa_with_dates), RunFiles(tmp_path / "run"), None, "cpu",
                           log=lambda _: None)
    assert not (tmp_path / "run" / "checkpoint").exists()


@pytest.mark.slow
def test_an_explicit_map_is_applied_and_counted(tmp_path: Path, swa_with_dates: Path):
    def test_scores(labels: LabelOptions, out: Path) -> dict[str, float]:
        output = train_and_evaluate(spec(labels, swa_with_dates), RunFiles(out), None, "cpu", log=lambda _: None)
        return {m: v for lang, split, m, v in output.results if (lang, split) == ("swa", "test")}

    default = test_scores(LabelOptions(), tmp_path / "default")
    mapped = test_scores(LabelOptions(map={"DATE": "O"}, unknown="error"), tmp_path / "mapped")
    assert default["n_tags_mapped_to_O"] > 0 and default["n_tags_relabelled"] == 0
    assert mapped["n_tags_mapped_to_O"] == 0 and mapped["n_tags_relabelled"] == default["n_tags_mapped_to_O"]


GRID = """\
study: labels
task: ner
source: en
targets: [swa]
data: {{ner: masakhaner}}
models: [{{name: t, model: tiny, method: full}}]
settings: [zero-shot]
seeds: [1]
labels: {labels}
"""


def test_grid_label_options_reach_the_spec_and_bad_values_name_their_line(tmp_path: Path):
    from engine.grid.expand import expand

    good = tmp_path / "good.yaml"
    good.write_text(GRID.format(labels="{map: {DATE: O}, unknown: error}"))
    (run,) = expand(load_grid(good))
    assert run.labels == LabelOptions(map={"DATE": "O"}, unknown="error")
    bad = tmp_path / "bad.yaml"
    bad.write_text(GRID.format(labels="{unknown: drop}"))
    with pytest.raises(GridError) as err:
        load_grid(bad)
    assert "bad.yaml:9: labels.unknown:" in str(err.value)
