"""Where each (task, language) dataset lives on disk.

A grid names data by catalog name (``masakhaner``) or by a local directory. The
catalog resolves under ``$XLTUI_DATA`` (default ``../shared/data``) so grids stay
portable between machines; local directories are used as given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATA_ENV = "XLTUI_DATA"
DEFAULT_DATA_DIR = "../shared/data"

# catalog name -> sub-directory of $XLTUI_DATA holding one folder per language
NER_CATALOG = {"masakhaner": "ner"}

# grids may use ISO 639-3 codes; the MasakhaNER folders use these names
LANGUAGE_DIR_ALIASES = {"amh": "am", "eng": "en"}

SPLITS = ("train", "dev", "test")


class DataError(ValueError):
    """A dataset reference that cannot be resolved to files (names what to fix)."""


@dataclass(frozen=True)
class SplitFiles:
    train: Path | None
    dev: Path | None
    test: Path | None

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


def is_catalog_name(ref: str) -> bool:
    return ref in NER_CATALOG


def _language_dir(base: Path, lang: str) -> Path | None:
    for name in (lang, LANGUAGE_DIR_ALIASES.get(lang, lang)):
        if (base / name).is_dir():
            return base / name
    return None


def ner_files(ref: str, lang: str) -> SplitFiles:
    """Resolve a grid data reference for one language to its CoNLL split files."""
    if is_catalog_name(ref):
        base = data_root() / NER_CATALOG[ref]
        folder = _language_dir(base, lang)
        if folder is None:
            raise DataError(f"{ref}: no folder for language '{lang}' under {base}")
    else:
        base = Path(ref)
        if not base.is_dir():
            raise DataError(f"data directory {ref} does not exist")
        folder = _language_dir(base, lang) or base
    found = {s: (folder / f"{s}.txt") for s in SPLITS}
    files = SplitFiles(**{s: (p if p.is_file() else None) for s, p in found.items()})
    if files.train is None and files.dev is None and files.test is None:
        raise DataError(f"{folder}: no train.txt, dev.txt or test.txt for language '{lang}'")
    return files
