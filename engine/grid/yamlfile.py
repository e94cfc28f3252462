"""Reading a grid YAML file so that every error can name ``file:line: field``.

A researcher fixes a grid from the error text alone, so errors must point at the
line to edit. We parse once into PyYAML's node tree (which keeps line marks) and
construct the plain data from that same tree with the *safe* constructor: no
tags are executed. Validation errors, which only know a path such as
``('models', 0, 'lr')``, are mapped back to the line of the nearest node.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Loc = tuple[int | str, ...]


@dataclass(frozen=True)
class GridIssue:
    """One problem in a grid file, precise enough to fix without reading code."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class GridError(ValueError):
    """All problems found in a grid file, one line per issue."""

    def __init__(self, issues: Sequence[GridIssue]) -> None:
        self.issues: list[GridIssue] = list(dict.fromkeys(issues))  # drop repeats, keep order
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(i) for i in self.issues)


def format_loc(loc: Iterable[int | str]) -> str:
    """``('models', 0, 'lr')`` -> ``models[0].lr`` (the way a user reads the YAML)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _find_key(node: MappingNode, key: int | str) -> tuple[Node, Node] | None:
    for k, v in node.value:
        if isinstance(k, ScalarNode) and k.value == str(key):
            return k, v
    return None


def locate(root: Node | None, loc: Loc) -> tuple[int | None, Loc]:
    """Line of the nearest existing node for ``loc``, and the path worth showing.

    A mapping entry is reported at its key's line. Path parts that name keys
    missing from a mapping are kept (a missing or misspelt field is still the
    field to talk about); parts below a scalar are dropped, because they only
    exist after normalisation (e.g. ``task: ner`` validated as ``['ner']``).
    """
    if root is None:
        return None, tuple(p for p in loc if p != "[key]")
    node, line, kept = root, _line(root), []
    parts = [p for p in loc if p != "[key]"]  # pydantic's marker for a bad dict key
    for i, part in enumerate(parts):
        if isinstance(node, MappingNode):
            found = _find_key(node, part)
            if found is None:
                kept.extend(parts[i:])
                break
            key_node, node = found
            line = _line(key_node)
        elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = _line(node)
        elif isinstance(node, ScalarNode):
            break
        else:
            kept.extend(parts[i:])
            break
        kept.append(part)
    return line, tuple(kept)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A hint for a typo, or the list of what is allowed when nothing is close."""
    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'?"
    return "allowed: " + ", ".join(choices)


def error_message(loc: Loc, err: Any, allowed_keys: Iterable[str]) -> str:
    """Pydantic's message for one error, reworded where it would not say what to do.

    ``allowed_keys`` are the valid keys of the mapping holding ``loc[-1]``, for the
    "did you mean" hint on an unknown key.
    """
    kind, value = err["type"], err.get("input")
    if kind in ("string_type", "literal_error") and isinstance(value, bool):
        return f"expected a string, got {value} (YAML reads yes/no/on/off as booleans: quote it)"
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return f"unknown key '{loc[-1]}'; " + did_you_mean(str(loc[-1]), allowed_keys)
    if kind == "literal_error":
        return f"unsupported value {value!r}; allowed: {err['ctx']['expected']}"
    if kind == "too_short":
        return "must not be empty"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if msg.startswith("Input should"):
        shown = repr(value)
        msg = f"{msg[0].lower()}{msg[1:]} (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
    return msg


def _duplicate_keys(node: Node | None, loc: Loc = ()) -> Iterable[tuple[Loc, int, int]]:
    """PyYAML silently keeps the last of two equal keys; a grid must not."""
    if isinstance(node, MappingNode):
        seen: dict[str, int] = {}
        for k, v in node.value:
            if isinstance(k, ScalarNode):
                if k.value in seen:
                    yield loc + (k.value,), _line(k), seen[k.value]
                else:
                    seen[k.value] = _line(k)
                yield from _duplicate_keys(v, loc + (k.value,))
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, loc + (i,))


@dataclass
class YamlDoc:
    """A parsed grid file: its data, its node tree, and how to blame a line."""

    file: str
    path: Path
    data: dict[str, Any]
    root: Node

    def issue(self, loc: Loc, message: str) -> GridIssue:
        line, shown = locate(self.root, loc)
        return GridIssue(self.file, line, format_loc(shown), message)


def read_grid_text(path: str | Path) -> str:
    """A grid file's text; GridError naming the file when it cannot be read."""
    file = str(path)
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GridError([GridIssue(file, None, "", "grid file not found")]) from None
    except IsADirectoryError:
        raise GridError([GridIssue(file, None, "", "is a directory, expected a grid YAML file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise GridError([GridIssue(file, None, "", f"cannot read grid file: {exc}")]) from None


def load_yaml(path: str | Path) -> YamlDoc:
    """Parse a grid file with safe_load semantics; raise GridError on any problem."""
    return parse_yaml(read_grid_text(path), path)


def parse_yaml(text: str, path: str | Path) -> YamlDoc:
    """Parse grid text as if read from ``path`` (the TUI composer validates before it saves)."""
    file = str(path)
    p = Path(path).expanduser()
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()  # what yaml.compose does: nodes, with line marks
        if root is None:
            raise GridError([GridIssue(file, None, "", "grid file is empty")])
        dups = [
            GridIssue(file, line, format_loc(loc), f"duplicate key (first given on line {first})")
            for loc, line, first in _duplicate_keys(root)
        ]
        if dups:
            raise GridError(dups)
        data = loader.construct_document(root)  # SafeConstructor: plain types only
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        if exc.context_mark is not None and (mark is None or mark.index >= len(text)):
            mark = exc.context_mark  # an unclosed bracket is found at the end; blame its opening
        line = mark.line + 1 if mark is not None else None
        problem = ": ".join(s for s in (exc.context, exc.problem) if s) or "invalid YAML"
        kind = "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
        raise GridError([GridIssue(file, line, "", f"{kind}: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise GridError([GridIssue(file, None, "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        raise GridError([GridIssue(
            file, _line(root), "", f"top level must be a mapping (study:, task:, models:, ...), not {kind}"
        )])
    return YamlDoc(file=file, path=p.resolve(), data=data, root=root)
