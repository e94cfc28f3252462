"""A sentiment grid checked before anything is queued: AfriSenti through the catalog (English to the
XLM-T tweets), few-shot pools (Oromo has no training tweets), K per class against the pool's
classes, a broken tweet file named by `file:line`, and the database left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.grid.expand import expand
from engine.grid.schema import load_grid
from engine.store.db import open_db
from tests.support.env import REPO, xltui_here
from tests.support.grids import issues_of, single_issue, write

GRID = """\
study: tweets
task: sentiment
source: en
targets: [hau, orm]
data: {{sentiment: {data}}}
models: [{{name: tiny, model: tiny, method: full}}]
settings: [zero-shot, {settings}]
seeds: [1]
"""
GOOD = "tweet\tlabel\nnice one\tpositive\nso so\tneutral\nawful\tnegative\n"


def grid(tmp_path: Path, *, data: str = "afrisenti", settings: str = "{few-shot: [10], pool: {orm: dev}}") -> Path:
    return write(tmp_path, GRID.format(data=data, settings=settings))


def test_afrisenti_grid_expands_with_the_pool_it_names(tmp_path: Path) -> None:
    specs = expand(load_grid(grid(tmp_path)))
    assert {(s.setting, s.targets, s.fewshot_pool) for s in specs} == {
        ("zero-shot", ("hau", "orm"), None), ("few-shot", ("hau",), None), ("few-shot", ("orm",), "dev")}
    assert all(s.data == {lang: "afrisenti" for lang in s.languages} for s in specs)


def test_few_shot_on_a_language_without_training_tweets_needs_a_pool(tmp_path: Path) -> None:
    issue = single_issue(grid(tmp_path, settings="{few-shot: [10]}"))
    assert "'orm'" in issue.message and "no training split" in issue.message
    assert "pool: {orm: dev}" in issue.message


def test_a_pool_must_exist_and_name_a_target(tmp_path: Path) -> None:
    issue = single_issue(grid(tmp_path, settings="{few-shot: [10], pool: {swa: dev, orm: dev}}"))
    assert "'swa' is no target language" in issue.message


def test_k_per_class_larger_than_a_class_is_refused_with_the_count(tmp_path: Path) -> None:
    path = write(tmp_path, GRID.format(data="afrisenti", settings="{few-shot: [100]}").replace(
        "targets: [hau, orm]", "targets: [pcm]"))
    out = xltui_here("grid", "validate", str(path))
    assert out.returncode != 0
    assert "train.tsv" in out.stderr + out.stdout and "72 'neutral'" in out.stderr + out.stdout


def test_labels_options_are_refused_for_a_fixed_label_set(tmp_path: Path) -> None:
    path = write(tmp_path, GRID.format(data="afrisenti", settings="{few-shot: [10], pool: {orm: dev}}")
                 + "labels: {unknown: O}\n")
    assert "fixed label set" in single_issue(path).message


@pytest.mark.parametrize("bad, line, words", [
    ("tweet\tlabel\nok\tpositive\nbad\tangry\n", 3, "angry"),
    ("tweet\tlabel\nok\tpositive\ntoo\tmany\tfields\n", 3, "field"),
    (b"tweet\tlabel\nok\tpositive\n\xff\xfe\tnegative\n", 3, "UTF-8"),
])
def test_a_broken_tweet_file_is_named_by_line_and_nothing_is_queued(tmp_path: Path, bad, line, words) -> None:
    data = tmp_path / "tweets"
    for lang in ("en", "hau", "orm"):
        for split in ("train", "dev", "test"):
            (data / lang).mkdir(parents=True, exist_ok=True)
            (data / lang / f"{split}.tsv").write_text(GOOD)
    target = data / "hau" / "test.tsv"
    target.write_bytes(bad if isinstance(bad, bytes) else bad.encode())
    path = grid(tmp_path, data=str(data), settings="{few-shot: [1]}")
    db = tmp_path / "q.db"
    open_db(str(db)).dispose()
    before = db.read_bytes()
    out = xltui_here("run", "--grid", str(path), "--db", str(db))
    assert out.returncode != 0
    assert f"{target}:{line}:" in out.stderr + out.stdout and words in out.stderr + out.stdout
    assert db.read_bytes() == before


def test_the_shipped_sentiment_grids_read_their_data_clean() -> None:
    for name in ("sentiment-offline", "sentiment", "sentiment-hausa", "sentiment-multi"):
        out = xltui_here("grid", "validate", str(REPO / "configs" / f"{name}.yaml"))
        assert out.returncode == 0, name + out.stdout + out.stderr


def test_an_unknown_afrisenti_language_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, GRID.format(data="afrisenti", settings="{few-shot: [10], pool: {orm: dev}}").replace(
        "targets: [hau, orm]", "targets: [hau, orm, xho]"))
    messages = " ".join(i.message for i in issues_of(path))
    assert "xho" in messages and "hau" in messages
