"""The house shows its plan: engine/ is one folder per stage and imports go one way.

Every module's imports are read from its syntax tree (nothing is executed), so the
check costs milliseconds and cannot be fooled by import-time side effects. The
checker itself is tested on a small made-up tree, so a broken checker fails here too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# stage -> the stages it may import (besides itself); engine/__init__.py documents the same table
ALLOWED: dict[str, set[str]] = {
    "spec": set(),
    "settings": set(),
    "runfiles": set(),
    "gpus": {"settings"},  # the one GPU probe (NVML): for the worker, a run's telemetry and the app
    "data": {"spec", "settings"},
    "grid": {"data", "spec", "settings"},
    "store": {"spec", "settings", "gpus"},
    "runner": {"store", "data", "spec", "settings", "runfiles", "gpus", "grid", "analysis"},  # grid, analysis: runner/study
    "training": {"store", "data", "spec", "settings", "runfiles"},
    "analysis": {"store", "data", "spec", "settings"},
    "xltui": {"spec", "settings", "runfiles", "gpus", "data", "grid", "store", "runner", "analysis"},
}
LOOSE = {"spec", "settings", "runfiles", "gpus"}  # modules at the engine's top level, not folders
HEAVY = ("torch", "transformers", "adapters")  # only engine/training/ may import these at module level
SCREEN = ("textual", "xltui")  # engine/ never imports these


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted
    target: str  # the imported module, dotted (a module if one exists by that name, else its package)
    line: int
    top_level: bool  # executed when the importing module is imported (not inside a function)
    type_only: bool  # under `if TYPE_CHECKING:`


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(root: Path, path: Path, known: set[str]) -> list[Import]:
    """Every import statement of one file, resolved to module names."""
    source = module_name(root, path)
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, top: bool, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, False, type_only)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                for stmt in child.body:
                    visit(ast.Module(body=[stmt], type_ignores=[]), top, True)
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), top, type_only)
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(source, alias.name, child.lineno, top, type_only))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    found.append(Import(source, sub if sub in known else base, child.lineno, top, type_only))
            else:
                visit(child, top, type_only)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), True, False)
    return found


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "xltui":
        return "xltui"
    if parts[0] == "engine" and len(parts) > 1:
        # states.py is the spec's vocabulary without pydantic (spec re-exports it): the same layer
        return "spec" if parts[1] in ("states", "tasks") else parts[1]
    return None


@dataclass
class Layout:
    modules: dict[str, Path]
    imports: list[Import]

    @classmethod
    def read(cls, root: Path, packages: tuple[str, ...] = ("engine", "xltui")) -> Layout:
        files = [p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))]
        modules = {module_name(root, p): p for p in files}
        known = set(modules)
        return cls(modules, [i for p in files for i in imports_of(root, p, known)])

    def internal(self) -> list[Import]:
        return [i for i in self.imports if i.target in self.modules and i.target != i.source]

    def cycles(self) -> list[list[str]]:
        """Each strongly connected group of modules that import each other (Tarjan). Every import
        counts: at module level, inside a function, or only under ``TYPE_CHECKING`` — a type-only or
        late import hides a cycle from the interpreter, not from the reader (nor from a type checker)."""
        graph: dict[str, set[str]] = {m: set() for m in self.modules}
        for i in self.internal():
            graph[i.source].add(i.target)
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        groups: list[list[str]] = []

        def strongconnect(v: str) -> None:
            index[v] = low[v] = len(index)
            stack.append(v)
            on_stack.add(v)
            for w in sorted(graph[v]):
                if w not in index:
                    strongconnect(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                group = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    group.append(w)
                    if w == v:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

        for v in sorted(graph):
            if v not in index:
                strongconnect(v)
        return groups

    def wrong_directions(self, allowed: dict[str, set[str]]) -> list[str]:
        out = []
        for i in self.internal():
            a, b = stage_of(i.source), stage_of(i.target)
            if a is None or b is None or a == b:
                continue
            if b not in allowed.get(a, set()):
                out.append(f"{self.modules[i.source].name}:{i.line}: {i.source} ({a}) imports {i.target} ({b})")
        return out

    def forbidden(self) -> list[str]:
        """engine/ importing a screen; heavy ML imports outside training/ (module level) or anywhere in xltui/."""
        out = []
        for i in self.imports:
            top = i.target.split(".")[0]
            stage = stage_of(i.source)
            where = f"{i.source}:{i.line}"
            if i.source.startswith("engine") and top in SCREEN:
                out.append(f"{where}: engine imports {i.target}")
            if top in HEAVY and not i.type_only:
                if stage == "xltui" or (stage != "training" and i.top_level):
                    out.append(f"{where}: imports {i.target} outside engine/training/")
            if stage == "xltui" and stage_of(i.target) == "training":
                out.append(f"{where}: the app imports {i.target}")
        return out


@pytest.fixture(scope="module")
def layout() -> Layout:
    return Layout.read(ROOT)


def test_engine_is_a_handful_of_stage_folders(layout: Layout) -> None:
    engine = ROOT / "engine"
    loose = sorted(p.name for p in engine.glob("*.py") if p.name != "__init__.py")
    assert loose == sorted([f"{m}.py" for m in LOOSE] + ["states.py", "tasks.py"])
    folders = sorted(p.name for p in engine.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert folders == sorted(set(ALLOWED) - LOOSE - {"xltui"})
    for folder in folders:
        doc = ast.get_docstring(ast.parse((engine / folder / "__init__.py").read_text()))
        assert doc and "May import:" in doc, f"engine/{folder}/__init__.py must say what it holds and may import"


def test_no_import_cycles(layout: Layout) -> None:
    assert layout.cycles() == []


def test_imports_go_one_way(layout: Layout) -> None:
    assert layout.wrong_directions(ALLOWED) == []


def test_no_screen_in_the_engine_and_no_torch_outside_training(layout: Layout) -> None:
    assert layout.forbidden() == []


def test_the_checker_finds_what_it_is_for(tmp_path: Path) -> None:
    """A made-up tree with one of each fault: the checks above would catch them."""
    def write(rel: str, text: str) -> None:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    for pkg in ("engine", "engine/store", "engine/training", "xltui"):
        write(f"{pkg}/__init__.py", "")
    write("engine/spec.py", "")
    write("engine/store/a.py", "from engine.store import b\nimport torch\n")
    write("engine/store/b.py", "def f():\n    from engine.store.a import x\n    import torch\n")
    write("engine/store/c.py", "from engine.training import loop\nfrom textual.app import App\n")
    write("engine/store/d.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from engine.store.e import y\n")
    write("engine/store/e.py", "from engine.store.d import x\n")
    write("engine/training/loop.py", "import torch\nfrom engine.store import a\n")
    write("xltui/app.py", "from engine.training.loop import train\n"
          "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from engine.store.a import x\n")
    fake = Layout.read(tmp_path)
    # a cycle closed by a function-level import (a -> b at the top, b -> a in a function), and one
    # closed by a type-only import (d -> e under TYPE_CHECKING, e -> d at the top)
    assert fake.cycles() == [["engine.store.a", "engine.store.b"], ["engine.store.d", "engine.store.e"]]
    assert fake.wrong_directions(ALLOWED) == ["c.py:1: engine.store.c (store) imports engine.training.loop (training)",
                                              "app.py:1: xltui.app (xltui) imports engine.training.loop (training)"]
    assert fake.forbidden() == ["engine.store.a:2: imports torch outside engine/training/",
                                "engine.store.c:2: engine imports textual.app",
                                "xltui.app:1: the app imports engine.training.loop"]
