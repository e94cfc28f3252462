"""Where each (task, language) dataset lives on disk.

A grid names data by catalog name (``masakhaner`` for NER; ``ud`` or ``ud:en_ewt``
for POS), by a local directory, or by a Hugging Face dataset (``hf:org/name[:config]``
or ``hf:<local copy>``, see engine.hf_source). The catalog resolves under ``$XLTUI_DATA``
(default ``../shared/data``) so grids stay portable between machines; local
directories are used as given; Hugging Face data is converted once into cached
CoNLL / CoNLL-U files (engine.hf_data), so every reader downstream sees plain files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

DATA_ENV = "XLTUI_DATA"
DEFAULT_DATA_DIR = "../shared/data"
CACHE_ENV = "XLTUI_CACHE"  # converted datasets and tokenised splits; safe to delete
DEFAULT_CACHE_DIR = "~/.cache/xltui"

NER_CATALOG = {"masakhaner": "ner"}  # name -> sub-directory of $XLTUI_DATA, one folder per language
UD_CATALOG = "ud"  # `ud` (the language's default treebank) or `ud:<treebank>`
CATALOG_NAMES = (*NER_CATALOG, UD_CATALOG)
DEFAULT_CATALOG = {"ner": "masakhaner", "pos": UD_CATALOG}

# grids may use ISO 639-3 codes; the MasakhaNER folders use these names
LANGUAGE_DIR_ALIASES = {"amh": "am", "eng": "en"}
# the treebank `ud` means for a language (ISO 639-1 or 639-3 code)
UD_DEFAULT_TREEBANK = {"en": "en_ewt", "eng": "en_ewt", "yo": "yo_ytb", "yor": "yo_ytb", "am": "am_att",
                       "amh": "am_att"}

SPLITS = ("train", "dev", "test")
HF_PREFIX = "hf:"  # a Hugging Face dataset: hub id or local copy in the hub's schema


class DataError(ValueError):
    """A dataset reference that cannot be resolved to files (names what to fix)."""


@dataclass(frozen=True)
class SplitFiles:
    train: Path | None
    dev: Path | None
    test: Path | None
    note: str | None = None  # how splits were substituted, for the run log

    def get(self, split: str) -> Path | None:
        return getattr(self, split)


def data_root() -> Path:
    """The shared data directory; a clear error says which variable to set."""
    root = Path(os.environ.get(DATA_ENV, DEFAULT_DATA_DIR)).expanduser()
    if not root.is_dir():
        raise DataError(
            f"data directory {root} does not exist: set {DATA_ENV} to the directory "
            f"holding ner/ (MasakhaNER) and pos/ (UD), e.g. export {DATA_ENV}=/path/to/shared/data"
        )
    return root.resolve()


def cache_root() -> Path:
    """Where derived data (converted datasets, tokenised splits) is kept between runs."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR).expanduser().resolve()


def is_catalog_name(ref: str) -> bool:
    return ref in CATALOG_NAMES or ref.startswith(UD_CATALOG + ":")


def is_hf_ref(ref: str) -> bool:
    return ref.startswith(HF_PREFIX)


def _hf_files(task: str, ref: str, lang: str) -> SplitFiles:
    from engine.hf_data import hf_split_files  # lazy: pulls in datasets / pyarrow only when used

    return hf_split_files(task, ref, lang)


def _language_dir(base: Path, lang: str) -> Path | None:
    for name in (lang, LANGUAGE_DIR_ALIASES.get(lang, lang)):
        if (base / name).is_dir():
            return base / name
    return None


def _local_folder(ref: str, lang: str) -> Path:
    """A local data directory: its per-language subfolder if there is one, else itself."""
    base = Path(ref)
    if not base.is_dir():
        raise DataError(f"data directory {ref} does not exist")
    return _language_dir(base, lang) or base


def _found(candidates: dict[str, list[Path]]) -> dict[str, Path | None]:
    return {s: next((p for p in paths if p.is_file()), None) for s, paths in candidates.items()}


def ner_files(ref: str, lang: str) -> SplitFiles:
    """Resolve a grid data reference for one language to its CoNLL split files."""
    if is_hf_ref(ref):
        return _hf_files("ner", ref, lang)
    if ref in NER_CATALOG:
        base = data_root() / NER_CATALOG[ref]
        folder = _language_dir(base, lang)
        if folder is None:
            raise DataError(f"{ref}: no folder for language '{lang}' under {base}")
    elif is_catalog_name(ref):
        raise DataError(f"'{ref}' is a POS (UD) catalog name; NER data is 'masakhaner' or a directory")
    else:
        folder = _local_folder(ref, lang)
    files = SplitFiles(**_found({s: [folder / f"{s}.txt"] for s in SPLITS}))
    if files.train is None and files.dev is None and files.test is None:
        raise DataError(f"{folder}: no train.txt, dev.txt or test.txt for language '{lang}'")
    return files


def _ud_folder(ref: str, lang: str) -> Path:
    base = data_root() / "pos"
    treebank = ref.split(":", 1)[1] if ":" in ref else UD_DEFAULT_TREEBANK.get(lang)
    if treebank is None:
        raise DataError(f"ud: no default treebank for language '{lang}'; name one, e.g. ud:yo_ytb "
                        f"(known: {', '.join(sorted(set(UD_DEFAULT_TREEBANK.values())))})")
    folder = base / treebank
    if not folder.is_dir():
        raise DataError(f"{ref}: no treebank folder {folder}")
    return folder


def pos_files(ref: str, lang: str) -> SplitFiles:
    """Resolve a POS reference to CoNLL-U files (``<tb>-ud-<split>.conllu`` or ``<split>.conllu``).

    A treebank shipped without a train split but with dev and test (the shared copy
    of English-EWT) trains on dev and selects checkpoints on test: English is the
    source language, so its test set is never a reported transfer score.
    """
    if is_hf_ref(ref):
        return _hf_files("pos", ref, lang)
    if ref == UD_CATALOG or ref.startswith(UD_CATALOG + ":"):
        folder = _ud_folder(ref, lang)
    elif ref in NER_CATALOG:
        raise DataError(f"'{ref}' is an NER catalog name; POS data is 'ud', 'ud:<treebank>' or a directory")
    else:
        folder = _local_folder(ref, lang)
    found = _found({s: sorted(folder.glob(f"*-ud-{s}.conllu")) + [folder / f"{s}.conllu"] for s in SPLITS})
    if not any(found.values()):
        raise DataError(f"{folder}: no *-ud-{{train,dev,test}}.conllu files for language '{lang}'")
    return pos_split_files(found, folder.name)


def pos_split_files(found: dict[str, Path | None], name: str) -> SplitFiles:
    """POS split files, training on dev and selecting on test when only those two exist."""
    if found["train"] is None and found["dev"] is not None and found["test"] is not None:
        return SplitFiles(train=found["dev"], dev=found["test"], test=found["test"],
                          note=f"{name} has no train split: training on dev, selecting on test")
    return SplitFiles(**found)


RESOLVERS: dict[str, Callable[[str, str], SplitFiles]] = {"ner": ner_files, "pos": pos_files}


def task_files(task: str, ref: str, lang: str) -> SplitFiles:
    return RESOLVERS[task](ref, lang)
