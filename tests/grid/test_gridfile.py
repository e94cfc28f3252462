"""Grid files as files: YAML syntax errors, missing or empty files, tags that must
never execute, duplicate keys, and the YAML-node lookup behind every line number."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.grid.yamlfile import locate
from tests.support.grids import BASE, edit, issues_of, single_issue, write

# ---------------------------------------------------------------- file-level errors


def test_yaml_syntax_error(tmp_path: Path) -> None:
    issue = single_issue(write(tmp_path, edit(BASE, {4: "targets: [swa, yor"})))
    assert issue.line == 5 and issue.field == "" and "YAML syntax error" in issue.message
    issue = single_issue(write(tmp_path, "study: x\n  bad: indent\n", "b.yaml"))
    assert issue.line == 2 and str(issue).startswith(f"{tmp_path / 'b.yaml'}:2: YAML syntax error")


def test_unclosed_bracket_at_end_blames_its_opening(tmp_path: Path) -> None:
    issue = single_issue(write(tmp_path, "study: x\nseeds: [1, 2\n"))
    assert issue.line == 2


def test_missing_file(tmp_path: Path) -> None:
    issue = single_issue(tmp_path / "nope.yaml")
    assert str(issue) == f"{tmp_path / 'nope.yaml'}: grid file not found"


@pytest.mark.parametrize(("text", "message"), [
    ("", "grid file is empty"),
    ("# only a comment\n", "grid file is empty"),
    ("- study: x\n", "top level must be a mapping"),
    ("just a string\n", "top level must be a mapping"),
])
def test_empty_or_non_mapping_file(tmp_path: Path, text: str, message: str) -> None:
    assert message in single_issue(write(tmp_path, text)).message


def test_python_tags_are_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"study: !!python/object/apply:os.system ['touch {marker}']\n"
    issue = single_issue(write(tmp_path, text))
    assert issue.line == 1 and "could not determine a constructor" in issue.message
    assert not marker.exists()


def test_duplicate_yaml_keys_are_reported(tmp_path: Path) -> None:
    issues = issues_of(write(tmp_path, BASE + "seeds: [3]\ntrain: {lr: 1.0e-5, lr: 2.0e-5}\n"))
    assert [(i.line, i.field) for i in issues] == [(17, "seeds"), (18, "train"), (18, "train.lr")]
    assert issues[0].message == "duplicate key (first given on line 13)"


def test_locate_nearest_node() -> None:
    import yaml
    root = yaml.compose("a:\n  - x\n  - {b: 1}\nc: 3\n", Loader=yaml.SafeLoader)
    assert locate(root, ("a", 1, "b")) == (3, ("a", 1, "b"))
    assert locate(root, ("a", 1, "missing")) == (3, ("a", 1, "missing"))
    assert locate(root, ("c", 0)) == (4, ("c",))  # below a scalar: blame the scalar
    assert locate(root, ("zz",)) == (1, ("zz",))
    assert locate(None, ("a",)) == (None, ("a",))


