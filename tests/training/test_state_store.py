"""A run's saved training states on disk (engine.training.resume): what is never loaded — a
truncated or corrupted file, another spec's state, another format, a half-written temporary
file — falls back to the previous state or to step 0 with the reason in the log; a save
that fills the disk leaves the previous state whole and is told as a full disk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from engine.runfiles import DISK_FULL_PREFIX, disk_full
from engine.settings import Cadence, parse_cadence
from engine.training.resume import StateStore
from tests.support.disk import fill


def payload(step: int, size: int = 1000) -> dict:
    return {"loop": {"step": step}, "weights": {"w": torch.full((size,), float(step))}}


def store_at(folder: Path, spec_hash: str = "abc", said: list[str] | None = None) -> StateStore:
    return StateStore(folder, spec_hash, Cadence(), log=(said.append if said is not None else print),
                      owner="run 1 queued at 1.0")


def two_states(folder: Path) -> StateStore:
    """States at steps 2 and 4 both on disk (as between writing 4 and removing 2)."""
    store = store_at(folder)
    store.save(2, payload(2), None)
    kept = folder.parent / "kept"
    shutil.copytree(folder, kept)
    store.save(4, payload(4), None)
    for f in kept.iterdir():
        shutil.copy(f, folder / f.name)
    return store


def test_the_newest_good_state_is_loaded_and_only_it_is_kept(tmp_path):
    folder = tmp_path / "state"
    two_states(folder)
    manifest, loaded = store_at(folder).latest()
    assert manifest["step"] == 4 and torch.equal(loaded["weights"]["w"], torch.full((1000,), 4.0))
    assert sorted(p.name for p in folder.iterdir()) == ["state-000000004.json", "state-000000004.pt"]


@pytest.mark.parametrize("damage, why", [
    (lambda pt, js: pt.write_bytes(pt.read_bytes()[:-100]), "were written (truncated?)"),
    (lambda pt, js: pt.write_bytes(pt.read_bytes()[:50] + b"X" + pt.read_bytes()[51:]), "does not match its checksum"),
    (lambda pt, js: js.write_text(json.dumps({**json.loads(js.read_text()), "spec_hash": "other"})), "another spec"),
    (lambda pt, js: js.write_text(json.dumps({**json.loads(js.read_text()), "format": 0})), "state format 0"),
    (lambda pt, js: js.write_text(json.dumps({**json.loads(js.read_text()), "owner": "run 1 queued at 5.0"})),
     "another database's run (run 1 queued at 5.0; this is run 1 queued at 1.0)"),
    (lambda pt, js: js.write_text("{"), "manifest state-000000004.json is unreadable"),
    (lambda pt, js: pt.unlink(), "state file state-000000004.pt is missing"),
])
def test_a_bad_state_is_never_loaded_the_previous_one_is(tmp_path, damage, why):
    folder = tmp_path / "state"
    two_states(folder)
    damage(folder / "state-000000004.pt", folder / "state-000000004.json")
    said: list[str] = []
    manifest, loaded = store_at(folder, said=said).latest()
    assert manifest["step"] == 2 and loaded["loop"] == {"step": 2}
    assert len(said) == 1 and said[0].startswith("saved state at step 4 not used: ") and why in said[0], said
    assert not (folder / "state-000000004.json").exists()  # refused once, not again at every attempt


def test_with_no_good_state_the_run_starts_at_step_0_and_a_leftover_temporary_file_is_ignored(tmp_path):
    folder = tmp_path / "state"
    store = store_at(folder)
    store.save(3, payload(3), store.save_best(3, {"w": torch.ones(3)}))
    (folder / ".state-000000005.pt.tmp").write_bytes(b"half a state")  # a save killed midway
    said: list[str] = []
    assert store_at(folder, spec_hash="another", said=said).latest() is None
    assert "written for another spec (abc, this run is another)" in said[0]
    assert not list(folder.glob("best-*"))  # the best weights of a refused state go with it


def test_best_weights_are_kept_for_the_newest_state_and_checked_when_loaded(tmp_path):
    folder = tmp_path / "state"
    store = store_at(folder)
    first = store.save_best(1, {"w": torch.ones(3)})
    store.save(2, payload(2), first)
    second = store.save_best(3, {"w": torch.full((3,), 3.0)})  # newer than the saved state: both kept
    assert {p.name for p in folder.glob("best-*.pt")} == {first, second}
    third = store.save_best(4, {"w": torch.full((3,), 4.0)})
    assert {p.name for p in folder.glob("best-*.pt")} == {first, third}  # the newest state's and the newest
    assert torch.equal(store.load_best(third)["w"], torch.full((3,), 4.0))
    (folder / third).write_bytes(b"garbage")
    with pytest.raises(RuntimeError, match="cannot be used: .* were written"):
        store.load_best(third)
    manifest, _ = store_at(folder).latest()  # a resumed run: the later best goes, the state's own stays
    assert manifest["best"] == first and {p.name for p in folder.glob("best-*.pt")} == {first}


def test_a_save_that_fills_the_disk_leaves_the_previous_state_whole(small_disk: Path):
    folder = small_disk / "run-1-abc" / "state"
    store = store_at(folder)
    store.save(1, payload(1, size=2_000_000), None)  # 8 MB
    fill(small_disk, leave=4 << 20)  # less than the next state needs
    with pytest.raises((OSError, RuntimeError)) as raised:
        store.save(2, payload(2, size=2_000_000), None)
    assert disk_full(raised.value, folder).startswith(DISK_FULL_PREFIX)  # the run process says "disk full: …"
    assert sorted(p.name for p in folder.iterdir()) == ["state-000000001.json", "state-000000001.pt"]  # no .tmp left
    (small_disk / "filler").unlink()
    manifest, loaded = store_at(folder).latest()
    assert manifest["step"] == 1 and torch.equal(loaded["weights"]["w"], torch.full((2_000_000,), 1.0))


def test_the_cadence_is_steps_a_duration_or_only_on_a_stop():
    assert parse_cadence("500") == Cadence(steps=500) and parse_cadence("90s") == Cadence(seconds=90.0)
    assert parse_cadence("15m") == Cadence(seconds=900.0) and parse_cadence("1h") == Cadence(seconds=3600.0)
    assert parse_cadence("0") == parse_cadence("off") == Cadence()
    for bad in ("-3", "15 minutes", "1d", "0s", ""):
        with pytest.raises(ValueError, match="is not a checkpoint cadence"):
            parse_cadence(bad)
    store = StateStore(Path("unused"), "x", Cadence(steps=5))
    assert not store.due(4) and store.due(5)


def test_a_periodic_save_writes_the_state_of_its_step_while_the_weights_go_on_changing(tmp_path):
    folder = tmp_path / "state"
    store = store_at(folder)
    weights = torch.zeros(2_000_000)
    store.save(7, {"weights": {"w": weights}}, None, background=True)
    weights += 1.0  # the next steps change the weights in place while the thread writes
    store.wait()
    manifest, loaded = store_at(folder).latest()
    assert manifest["step"] == 7 and torch.equal(loaded["weights"]["w"], torch.zeros(2_000_000))


def test_a_periodic_save_that_fills_the_disk_is_raised_at_the_next_save(small_disk: Path):
    folder = small_disk / "run-1-abc" / "state"
    store = store_at(folder)
    store.save(1, payload(1, size=2_000_000), None)
    fill(small_disk, leave=4 << 20)
    store.save(2, payload(2, size=2_000_000), None, background=True)  # the loop goes on meanwhile
    with pytest.raises(OSError) as raised:
        store.save(3, payload(3), None)
    assert disk_full(raised.value, folder) == f"{DISK_FULL_PREFIX}cannot write {folder}/state-000000002.pt " \
                                              "(No space left on device)"
    (small_disk / "filler").unlink()
    assert store_at(folder).latest()[0]["step"] == 1  # the previous state, whole
