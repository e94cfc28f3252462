"""Which languages the composer can offer: the ones the engine can actually find data for.

The engine's own resolvers (engine.data.catalog) decide, so a language offered here is
one that `xltui grid validate` accepts: catalog data under $XLTUI_DATA (MasakhaNER
folders, UD treebanks, AfriSenti) or a local directory with one sub-folder per language.
Each language is offered under one code, the one the shipped grids write (``amh``, not
also ``am``; ``en``, not also ``eng``): the resolvers accept the others too, but a list
showing both reads as two languages.
Reading is a few directory listings; nothing is opened. Hugging Face datasets (``hf:...``)
are not listed (that would load them): their languages are typed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.data.catalog import RESOLVERS, data_root
from engine.data.refs import (
    AFRISENTI,
    AFRISENTI_LANGUAGES,
    NER_CATALOG,
    SENTIMENT_ENGLISH,
    UD_CATALOG,
    UD_DEFAULT_TREEBANK,
    DataError,
    is_catalog_name,
    is_hf_ref,
)
from engine.grid.references import LANG_CODE
from engine.tasks import TASKS

SOURCE_SPLITS = ("train", "dev")
TARGET_SPLITS = ("test",)
# a second code of one language -> the code the composer offers (MasakhaNER's Amharic folder is `am`,
# UD knows English as `eng` and Yoruba as `yo` too; grids write amh, en and yor)
OFFERED_CODE = {"am": "amh", "eng": "en", "yo": "yor"}


@dataclass(frozen=True)
class LanguageChoices:
    """Languages usable as source (train and dev) and as target (test), and why there are none."""

    source: tuple[str, ...]
    target: tuple[str, ...]
    problem: str | None = None  # e.g. the data directory is missing


def _candidates(task: str, ref: str, base_dir: Path) -> list[str]:
    """Language codes worth asking the resolver about, for one data reference."""
    if is_hf_ref(ref):
        return []  # listing a Hugging Face dataset's languages means loading it: the user types them
    if ref in NER_CATALOG:
        folder = data_root() / NER_CATALOG[ref]
        return _offered([p.name for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else [])
    if ref == UD_CATALOG or ref.startswith(UD_CATALOG + ":"):
        return _offered(UD_DEFAULT_TREEBANK)  # `ud:<tb>` serves any code; the resolver still checks the folder
    if ref == AFRISENTI:
        return _offered([*SENTIMENT_ENGLISH, *AFRISENTI_LANGUAGES])
    folder = (base_dir / Path(ref).expanduser()).resolve()
    if not folder.is_dir():
        raise DataError(f"data directory {folder} does not exist")
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def _offered(codes) -> list[str]:
    """Each language once, under the code grids write."""
    return sorted({OFFERED_CODE.get(c, c) for c in codes})


def languages_for(task: str, ref: str, base_dir: Path = Path(".")) -> LanguageChoices:
    """Source and target languages one task's data reference can serve."""
    if task not in RESOLVERS:
        return LanguageChoices((), (), f"unknown task '{task}'")
    try:
        codes = [c for c in _candidates(task, ref, base_dir) if LANG_CODE.fullmatch(c)]
    except DataError as exc:
        return LanguageChoices((), (), str(exc))
    full = _full_ref(ref, base_dir)
    return LanguageChoices(tuple(c for c in codes if _serves(task, full, c, SOURCE_SPLITS)),
                           tuple(c for c in codes if _serves(task, full, c, TARGET_SPLITS)))


def languages_for_refs(task: str, refs: dict[str, str], base_dir: Path = Path(".")) -> LanguageChoices:
    """Languages of a per-language data mapping ({en: ud:en_ewt, yor: ud:yo_ytb}), each with its own ref."""
    full = {lang: _full_ref(ref, base_dir) for lang, ref in refs.items()}
    return LanguageChoices(tuple(lang for lang, ref in full.items() if _serves(task, ref, lang, SOURCE_SPLITS)),
                           tuple(lang for lang, ref in full.items() if _serves(task, ref, lang, TARGET_SPLITS)))


def _full_ref(ref: str, base_dir: Path) -> str:
    return ref if is_catalog_name(ref) else str((base_dir / Path(ref).expanduser()).resolve())


def _serves(task: str, ref: str, lang: str, splits: tuple[str, ...]) -> bool:
    try:
        files = RESOLVERS[task](ref, lang)
    except DataError:
        return False
    return all(files.get(s) is not None for s in splits)


def languages_for_tasks(refs: dict[str, str | dict[str, str]], base_dir: Path = Path(".")) -> LanguageChoices:
    """Languages every chosen task can serve (a grid uses one language list for all its tasks)."""
    if not refs:
        return LanguageChoices((), (), "choose a task first")
    per_task = {task: languages_for_refs(task, ref, base_dir) if isinstance(ref, dict)
                else languages_for(task, ref, base_dir) for task, ref in refs.items()}
    problems = [f"{task}: {c.problem}" for task, c in per_task.items() if c.problem]
    if problems:
        return LanguageChoices((), (), "; ".join(problems))
    choices = list(per_task.values())
    source = [c for c in choices[0].source if all(c in other.source for other in choices[1:])]
    target = [c for c in choices[0].target if all(c in other.target for other in choices[1:])]
    return LanguageChoices(tuple(source), tuple(target))


def default_ref(task: str) -> str:
    """The catalog a task reads when the user names nothing (masakhaner, ud, afrisenti)."""
    return TASKS[task].catalog if task in TASKS else ""
