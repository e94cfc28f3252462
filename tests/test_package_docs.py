"""Every package says what it holds: its docstring names each of its modules and subpackages.

A package docstring is where a reader starts (engine/__init__.py says so), so one that
leaves a module out sends them past it. Names count when written as ``name`` (or
``name.py``, ``name/``); the docstring is read from the syntax tree, nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "xltui")


def packages(root: Path) -> list[Path]:
    """Every folder with an ``__init__.py`` under the top-level packages, the top ones included."""
    return sorted(init.parent for top in PACKAGES for init in (root / top).rglob("__init__.py")
                  if "__pycache__" not in init.parts)


def members(package: Path) -> list[str]:
    """The modules (``__init__`` aside) and subpackages of one package."""
    modules = [p.stem for p in package.glob("*.py") if p.name != "__init__.py"]
    subpackages = [p.name for p in package.iterdir() if (p / "__init__.py").is_file()]
    return sorted(modules + subpackages)


def named(doc: str, name: str) -> bool:
    return any(f"``{form}``" in doc for form in (name, f"{name}.py", f"{name}/"))


def missing_names(root: Path) -> list[str]:
    """``path/__init__.py: name`` for every module or subpackage its package docstring leaves out."""
    out = []
    for package in packages(root):
        init = package / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        out += [f"{init.relative_to(root)}: {name}" for name in members(package) if not named(doc, name)]
    return out


def test_every_package_docstring_names_every_module() -> None:
    missing = missing_names(ROOT)
    assert not missing, "name these in their package's docstring, with a few words each:\n" + "\n".join(missing)


def test_the_check_reports_every_missing_name(tmp_path: Path) -> None:
    for rel, text in {"engine/__init__.py": '"""``spec.py`` and ``store/``."""',
                      "engine/spec.py": "", "engine/settings.py": "",
                      "engine/store/__init__.py": '"""Holds ``db`` (opening)."""',
                      "engine/store/db.py": "", "engine/store/queue.py": "", "engine/store/workers.py": "",
                      "xltui/__init__.py": "", "xltui/cli.py": ""}.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert missing_names(tmp_path) == ["engine/__init__.py: settings", "engine/store/__init__.py: queue",
                                       "engine/store/__init__.py: workers", "xltui/__init__.py: cli"]
