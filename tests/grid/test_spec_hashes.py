"""A stored database's runs keep their identity: the grids shipped before adapter methods and
released adapters existed expand to exactly the spec hashes they had then (recorded in
tests/grid/stored/hashes.json by that version), so re-queueing them finds every run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.grid.expand import expand
from engine.grid.schema import load_grid
from engine.runner.plan import lang_adapter_specs

STORED = Path(__file__).parent / "stored"


@pytest.mark.parametrize("name", sorted(json.loads((STORED / "hashes.json").read_text())))
def test_grids_written_before_the_new_methods_keep_their_spec_hashes(name: str) -> None:
    specs = expand(load_grid(STORED / name))
    hashes = {s.spec_hash() for s in specs} | {a.spec_hash() for s in specs for a in lang_adapter_specs(s).values()}
    assert sorted(hashes) == json.loads((STORED / "hashes.json").read_text())[name]
