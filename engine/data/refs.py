"""What a data reference is: catalog names, language folder aliases (MasakhaNER's, AfriSenti's),
split files, DataError.

Names only, no file access, so the resolvers (engine.data.catalog) and the Hugging
Face modules share them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.tasks import TASKS

NER_CATALOG = {"masakhaner": "ner"}  # name -> sub-directory of $XLTUI_DATA, one folder per language
UD_CATALOG = "ud"  # `ud` (the language's default treebank) or `ud:<treebank>`
AFRISENTI = "afrisenti"  # $XLTUI_DATA/sentiment/afrisenti/<code>/, English from sentiment/en_xlmt/
SENTIMENT_DIR, XLMT_FOLDER = "sentiment", "en_xlmt"
CATALOG_NAMES = (*NER_CATALOG, UD_CATALOG, AFRISENTI)
DEFAULT_CATALOG = {"ner": "masakhaner", "pos": UD_CATALOG, "sentiment": AFRISENTI}
# what each catalog holds, and what each task accepts instead (for the error naming another task's catalog)
CATALOG_KIND = {**{name: "an NER" for name in NER_CATALOG}, UD_CATALOG: "a POS (UD)",
                AFRISENTI: "a sentiment (AfriSenti)"}
TASK_DATA_HINT = {"ner": "'masakhaner' or a directory", "pos": "'ud', 'ud:<treebank>' or a directory",
                  "sentiment": "'afrisenti', 'hf:<dataset>' or a directory"}

# grids may use ISO 639-3 codes; the MasakhaNER folders use these names
LANGUAGE_DIR_ALIASES = {"amh": "am", "eng": "en"}
# the treebank `ud` means for a language (ISO 639-1 or 639-3 code)
UD_DEFAULT_TREEBANK = {"en": "en_ewt", "eng": "en_ewt", "yo": "yo_ytb", "yor": "yo_ytb", "am": "am_att",
                       "amh": "am_att"}
# AfriSenti's language folders (ISO 639-3), and the other codes grids use for the same languages
# (ISO 639-1 where one exists, as MasakhaNER / XTREME grids write them) -> the folder
AFRISENTI_LANGUAGES = ("amh", "arq", "ary", "hau", "ibo", "kin", "orm", "pcm", "por", "swa", "tir", "tso", "twi",
                       "yor")
SENTIMENT_LANGUAGE_ALIASES = {"am": "amh", "ha": "hau", "ig": "ibo", "rw": "kin", "om": "orm", "pt": "por",
                              "sw": "swa", "ti": "tir", "ts": "tso", "tw": "twi", "yo": "yor"}
SENTIMENT_ENGLISH = ("en", "eng")  # English sentiment is the XLM-T tweets, sentiment/en_xlmt/

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


def wrong_catalog(ref: str, task: str) -> DataError:
    """The error for another task's catalog name given as ``task``'s data (e.g. 'afrisenti' as NER data)."""
    kind = CATALOG_KIND.get(ref, CATALOG_KIND[UD_CATALOG] if ref.startswith(UD_CATALOG + ":") else "another task's")
    title = TASKS[task].title if task in TASKS else task
    return DataError(f"'{ref}' is {kind} catalog name; {title} data is {TASK_DATA_HINT.get(task, 'a directory')}")


def sentiment_language(lang: str) -> str:
    """The AfriSenti folder of a language code (its alias resolved); the code itself when unknown."""
    return SENTIMENT_LANGUAGE_ALIASES.get(lang, lang)


def is_hf_ref(ref: str) -> bool:
    return ref.startswith(HF_PREFIX)


def pos_split_files(found: dict[str, Path | None], name: str) -> SplitFiles:
    """POS split files, training on dev and selecting on test when only those two exist."""
    if found["train"] is None and found["dev"] is not None and found["test"] is not None:
        return SplitFiles(train=found["dev"], dev=found["test"], test=found["test"],
                          note=f"{name} has no train split: training on dev, selecting on test")
    return SplitFiles(**found)
