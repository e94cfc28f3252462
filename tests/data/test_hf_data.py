"""Hugging Face data (``hf:`` references): local copies in the hub's schema, built from the real
shared data, must read back as exactly the original sentences, validate in a grid, train end
to end, be cached once, and fail with one clear line when a column, split or config is
missing or the hub cannot be reached. Offline throughout: no test touches the network."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlmodel import Session, select

from engine.data.catalog import task_files
from engine.data.conll import read_conll
from engine.data.conllu import read_conllu
from engine.data.hf_source import config_candidates, parse_hf_ref
from engine.data.ner_eval import read_predictions
from engine.data.refs import DataError
from engine.store.db import open_db
from engine.store.schema import Artifact, Run
from tests.support.env import DATA, xltui
from tests.support.hf_copy import HUB_SPLIT, MASAKHANER2_LABELS, dataset, masakhaner_copy, ner_rows, ud_copy, write_copy

SPLITS = ("train", "dev", "test")
GRID = """\
study: hf
task: ner
source: en
targets: [swa]
data:
  ner: {{en: masakhaner, swa: "{ref}"}}
models: [{{name: tiny, model: tiny, method: full}}]
settings: [zero-shot]
seeds: [1]
"""


@pytest.fixture(autouse=True)
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh xltui cache per test, and the Hugging Face libraries kept off the network."""
    monkeypatch.setenv("XLTUI_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # an empty Hugging Face cache
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``mner/{en,swa}`` (masakhaner2 schema) and ``ud/{am_att,en_ewt,yo_ytb}`` (universal_dependencies)."""
    root = tmp_path_factory.mktemp("copies")
    masakhaner_copy(root / "mner", DATA, ("en", "swa"))
    ud_copy(root / "ud", DATA, ("am_att", "en_ewt", "yo_ytb"))
    return root


def entries(cache: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_ino) for p in sorted(cache.rglob("*"))}


@pytest.mark.parametrize("layout", ["parquet-branch", "save_to_disk", "flat, string tags"])
def test_ner_copy_reads_back_as_the_original_sentences(copies: Path, tmp_path: Path, layout: str) -> None:
    if layout == "parquet-branch":
        ref = f"hf:{copies / 'mner'}"  # config 'swa' from the language code
    else:  # one dataset at the top of the folder, no config level
        masakhaner_copy(tmp_path / "copy", DATA, ("swa",), layout.split(",")[0], string_tags="string" in layout)
        ref = f"hf:{tmp_path / 'copy' / 'swa'}"
    files = task_files("ner", ref, "swa")
    for split in SPLITS:
        original = DATA / "ner" / "swa" / f"{split}.txt"
        got = read_conll(files.get(split))
        assert len(got) == len(ner_rows(original)["tokens"]) > 0
        assert got == read_conll(original), split
    assert files.note is not None and ref in files.note and "6593 train, 942 dev, 1883 test" in files.note


def test_ud_copy_drops_multiword_tokens_and_keeps_sent_ids(copies: Path) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(copies / "ud" / "am_att" / "test" / "0000.parquet")
    assert sum(map(len, table.column("tokens").to_pylist())) > 10_010  # multiword tokens are rows there too
    for lang, treebank in (("amh", "am_att"), ("en", "en_ewt"), ("yor", "yo_ytb")):
        files = task_files("pos", f"hf:{copies / 'ud'}", lang)  # config: the language's UD treebank
        pairs = [("test", "test")] + ([("train", "dev")] if lang == "en" else [])
        for ours, theirs in pairs:
            got = read_conllu(files.get(ours))
            want = read_conllu(DATA / "pos" / treebank / f"{treebank}-ud-{theirs}.conllu")
            assert [(s.sent_id, s.tokens, s.tags) for s in got] == [(s.sent_id, s.tokens, s.tags) for s in want]
    assert sum(len(s) for s in read_conllu(task_files("pos", f"hf:{copies / 'ud'}:am_att", "amh").test)) == 10_010
    assert "no train split: training on dev" in task_files("pos", f"hf:{copies / 'ud'}", "en").note


def test_cache_is_reused_and_keyed_by_content(tmp_path: Path, offline_cache: Path) -> None:
    copy = masakhaner_copy(tmp_path / "copy", DATA, ("swa",))
    first = task_files("ner", f"hf:{copy}", "swa")
    before = entries(offline_cache)
    again = task_files("ner", f"hf:{copy}:swa", "swa")
    assert (again.train, again.dev, again.test) == (first.train, first.dev, first.test)
    assert entries(offline_cache) == before and len(before) == 6  # hf/, the entry, 3 splits, source.json
    rows = ner_rows(DATA / "ner" / "swa" / "test.txt")
    write_copy(copy / "swa", {"test": dataset({k: v[:-1] for k, v in rows.items()}, "ner_tags", MASAKHANER2_LABELS)})
    changed = task_files("ner", f"hf:{copy}", "swa")
    assert changed.test != first.test and len(read_conll(changed.test)) == len(rows["tokens"]) - 1
    assert entries(first.test.parent) == {p: v for p, v in before.items() if p.startswith(f"{first.test.parent}/")}


@pytest.mark.slow
def test_grid_on_a_local_copy_validates_and_trains_end_to_end(copies: Path, tmp_path: Path, db: str) -> None:
    grid = copies / "grid.yaml"  # beside the copy: the grid names it by a relative path
    grid.write_text("""\
study: hf-copy
task: ner
source: en
targets: [swa]
data: {ner: "hf:./mner"}
models:
  - {name: tiny, model: tiny, method: full, lr: 1.0e-3}
settings: [zero-shot]
seeds: [1]
train: {batch_size: 8, max_length: 48, epochs: 1, patience: 1, max_train_sentences: 30, max_eval_sentences: 25}
""")
    assert xltui("grid", "validate", str(grid)).returncode == 0
    out = xltui("run", "--grid", str(grid), "--db", db, "--cpu", cwd=tmp_path)
    assert out.returncode == 0 and "run 1 succeeded" in out.stdout, out.stdout + out.stderr
    with Session(open_db(db, create=False)) as s:
        run = s.exec(select(Run)).one()
        assert json.loads(run.spec_json)["data"]["swa"] == f"hf:{copies / 'mner'}"  # absolute, as stored
        arts = {(a.kind, a.language): a.path for a in s.exec(select(Artifact).where(Artifact.run_id == run.id))}
    tokens, _, _ = read_predictions(arts[("predictions", "swa")])  # gold there is mapped to the trained labels
    assert tokens == [list(x.tokens) for x in read_conll(DATA / "ner" / "swa" / "test.txt", limit=25)]
    info = json.loads(Path(arts[("run_info", None)]).read_text())["data"]
    assert info["swa"]["note"].startswith(f"hf:{copies / 'mner'} config swa from local copy")


def test_hub_id_offline_uses_the_parquet_conversion_in_the_hugging_face_cache(
        copies: Path, tmp_path: Path, offline_cache: Path) -> None:
    """A warm Hugging Face cache (layout of huggingface_hub's cache system) serves a hub id with no network."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    store = tmp_path / "hf-home" / "hub" / "datasets--masakhane--masakhaner2"
    shutil.copytree(copies / "mner" / "swa", store / "snapshots" / commit / "swa")
    (store / "refs" / "refs" / "convert").mkdir(parents=True)
    (store / "refs" / "refs" / "convert" / "parquet").write_text(commit)
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID.format(ref="hf:masakhane/masakhaner2"))
    out = xltui("grid", "validate", str(grid))
    assert out.returncode == 0, out.stderr
    [entry] = [json.loads(p.read_text()) for p in offline_cache.glob("hf/*/source.json")]
    assert entry["origin"] == f"Hugging Face Hub masakhane/masakhaner2@refs/convert/parquet (commit {commit})"
    assert entry["config"] == "swa" and entry["sentences"] == {"train": 6593, "dev": 942, "test": 1883}


def bad_copies(root: Path) -> None:
    rows = ner_rows(DATA / "ner" / "swa" / "test.txt")
    renamed = {("tags" if k == "ner_tags" else k): v for k, v in rows.items()}
    write_copy(root / "nocol" / "swa", {"test": dataset(renamed, "tags", MASAKHANER2_LABELS)})
    write_copy(root / "nosplit" / "swa", {HUB_SPLIT["train"]: dataset(rows, "ner_tags", MASAKHANER2_LABELS)})


@pytest.mark.parametrize(("ref", "message"), [
    ("hf:./nocol", "no 'ner_tags' column (columns: id, tokens, tags); NER data needs 'tokens' and 'ner_tags'"),
    ("hf:./nosplit", "language 'swa' has no test split in hf:"),
    ("hf:./nocol:zzz", "no config 'zzz' (configs: swa)"),
    ("hf:masakhane/masakhaner2", ("offline mode is on (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE) and it is not in the "
     "local Hugging Face cache. Get a local copy on a machine with internet: hf download masakhane/masakhaner2 "
     "--repo-type dataset --revision refs/convert/parquet --include 'swa/*' --local-dir DIR")),
    ("masakhane/masakhaner2", "for the Hugging Face dataset write 'hf:masakhane/masakhaner2'"),
    ("hf:not an id", "'not an id' is not a Hugging Face dataset id"),
])
def test_bad_hf_data_is_one_clear_error(tmp_path: Path, ref: str, message: str) -> None:
    bad_copies(tmp_path)
    grid = tmp_path / "grid.yaml"
    grid.write_text(GRID.format(ref=ref))
    out = xltui("grid", "validate", str(grid))
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith(f"error: {grid}:6: data.ner.swa: ") and out.stderr.count("\n") == 1, out.stderr
    assert message in out.stderr


@pytest.mark.parametrize(("ref", "lang", "configs"), [
    ("hf:google/xtreme:PAN-X.{lang2}", "swa", ["PAN-X.sw"]),
    ("hf:google/xtreme@abc123:udpos.Yoruba", "yor", ["udpos.Yoruba"]),
    ("hf:universal_dependencies", "yor", ["yor", "yo_ytb"]),
    ("hf:/data/copy", "amh", ["amh", "am", "am_att"]),
])
def test_reference_syntax(ref: str, lang: str, configs: list[str]) -> None:
    parsed = parse_hf_ref(ref)
    assert str(parsed) == ref and parsed.local == ref.startswith("hf:/")
    assert config_candidates(parsed, "pos", lang) == configs


@pytest.mark.parametrize(("ref", "message"), [
    ("hf:", "empty Hugging Face reference"), ("hf:org/name:", "nothing after ':'"),
    ("hf:a/b/c", "not a Hugging Face dataset id"), ("hf:x:PAN-X.{lang3}", "unknown placeholder {lang3}"),
    ("hf:x:{lang2}", "no ISO 639-1 code known for 'pcm'"),
])
def test_bad_reference_syntax(ref: str, message: str) -> None:
    with pytest.raises(DataError, match=message.replace("{", r"\{").replace("(", r"\(")):
        config_candidates(parse_hf_ref(ref), "ner", "pcm")
