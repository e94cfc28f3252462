"""The grid's data check: every language of every task resolves to the split files its role needs.

Run when a grid loads, so a run never dies after an hour in the queue on a missing
``dev.txt``; a target excluded for a whole task needs no data for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from engine.data.catalog import RESOLVERS
from engine.data.refs import CATALOG_NAMES, DataError, SplitFiles, is_catalog_name, is_hf_ref
from engine.grid.yamlfile import Loc, did_you_mean
from engine.tasks import TASKS

# task -> resolver of (data reference, language) to split files; a new task adds one
DATA_RESOLVERS: dict[str, Callable[[str, str], SplitFiles]] = RESOLVERS
ALL_LANGUAGES = "*"  # key used internally when one data reference serves every language


def _excluded_target(v: dict[str, Any], task: str, lang: str) -> bool:
    """An exclude entry naming only this target (and maybe the task) drops every run that needs its data."""
    return any(ex.target == lang and ex.task in (None, task) and ex.model_fields_set <= {"task", "target"}
               for ex in v.get("exclude", ()))


def check_data(v: dict[str, Any]) -> list[tuple[Loc, str]]:
    """Every language of every task resolves to files with the splits its role needs."""
    out: list[tuple[Loc, str]] = []
    sources = v["source"]
    for task in dict.fromkeys(v["task"]):
        refs = v["data"].get(task)
        if refs is None:
            out.append((("data",), f"no data given for task '{task}' (e.g. {task}: {TASKS[task].catalog})"))
            continue
        for lang in dict.fromkeys(sources + v["targets"]):
            if lang not in sources and _excluded_target(v, task, lang):
                continue  # e.g. {task: pos, target: swa}: no UD data for Swahili is needed
            key = lang if lang in refs else ALL_LANGUAGES
            loc: Loc = ("data", task) if key == ALL_LANGUAGES else ("data", task, lang)
            if key not in refs:
                out.append((("data", task, lang), f"no data reference for language '{lang}'"))
                continue
            try:
                files = DATA_RESOLVERS[task](refs[key], lang)
            except DataError as exc:
                near = did_you_mean(Path(refs[key]).name, CATALOG_NAMES)
                named = is_catalog_name(refs[key]) or is_hf_ref(refs[key])  # no folder-name typo to hint at
                hint = f" ({near})" if not named and near.startswith("did") else ""
                out.append((loc, f"{exc}{hint}"))
                continue
            role, needed = ("source", ("train", "dev")) if lang in sources else ("target", ("test",))
            missing = [s for s in needed if files.get(s) is None]
            if missing:
                out.append((loc, f"language '{lang}' has no {' or '.join(missing)} split in {refs[key]} "
                                 f"(a {role} language needs {' and '.join(needed)})"))
            elif lang not in sources:
                out += _pool_check(v, task, lang, files, refs[key])
    return out


def _pool_check(v: dict[str, Any], task: str, lang: str, files: SplitFiles, ref: str) -> list[tuple[Loc, str]]:
    """A few-shot target's pool exists: the split the grid names, else train; only tagging tasks carve
    their K out of the test file on their own (UD treebanks shipped without train)."""
    for i, setting in enumerate(v.get("settings", ())):
        if isinstance(setting, str) or _excluded_target(v, task, lang):
            continue
        asked = setting.pool.get(lang)
        if asked is not None and files.get(asked) is None:
            return [(("settings", i, "pool", lang), f"{ref} has no {asked} split for '{lang}' to draw few-shot "
                                                    f"examples from")]
        if asked is None and files.train is None and TASKS[task].head == "sentence":
            return [(("settings", i), f"few-shot {task} on '{lang}': {ref} has no training split for it, so there "
                                      f"is nothing to draw K examples per class from; name another split, e.g. "
                                      f"{{few-shot: {list(setting.k)}, pool: {{{lang}: dev}}}}")]
    return []


def targets_with_text(v: dict[str, Any]) -> dict[str, bool]:
    """Whether each target's data has a train or dev split (unlabelled text for the aligner)."""
    out: dict[str, bool] = {}
    for task in dict.fromkeys(v["task"]):
        refs = v["data"].get(task) or {}
        for lang in (t for t in v["targets"] if not _excluded_target(v, task, t)):
            ref = refs.get(lang) or refs.get(ALL_LANGUAGES)
            try:
                files = DATA_RESOLVERS[task](ref, lang) if ref else None
            except DataError:
                continue  # reported by check_data
            if files is not None:
                out[lang] = out.get(lang, True) and (files.train is not None or files.dev is not None)
    return out
