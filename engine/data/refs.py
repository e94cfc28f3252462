"""What a data reference is: catalog names, language folder aliases, split files, DataError.

Names only, no file access, so the resolvers (engine.data.catalog) and the Hugging
Face modules share them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


def is_catalog_name(ref: str) -> bool:
    return ref in CATALOG_NAMES or ref.startswith(UD_CATALOG + ":")


def is_hf_ref(ref: str) -> bool:
    return ref.startswith(HF_PREFIX)


def pos_split_files(found: dict[str, Path | None], name: str) -> SplitFiles:
    """POS split files, training on dev and selecting on test when only those two exist."""
    if found["train"] is None and found["dev"] is not None and found["test"] is not None:
        return SplitFiles(train=found["dev"], dev=found["test"], test=found["test"],
                          note=f"{name} has no train split: training on dev, selecting on test")
    return SplitFiles(**found)
