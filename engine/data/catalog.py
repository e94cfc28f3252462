"""Where each (task, language) dataset lives on disk.

A grid names data by catalog name (``masakhaner`` for NER; ``ud`` or ``ud:en_ewt``
for POS), by a local directory, or by a Hugging Face dataset (``hf:org/name[:config]``
or ``hf:<local copy>``, see engine.data.hf_source). The catalog resolves under ``$XLTUI_DATA``
(default ``../shared/data``) so grids stay portable between machines; local
directories are used as given; Hugging Face data is converted once into cached
CoNLL / CoNLL-U files (engine.data.hf_data), so every reader downstream sees plain files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from engine.data.refs import (
    LANGUAGE_DIR_ALIASES,
    NER_CATALOG,
    SPLITS,
    UD_CATALOG,
    UD_DEFAULT_TREEBANK,
    DataError,
    SplitFiles,
    is_catalog_name,
    is_hf_ref,
    pos_split_files,
)
from engine.settings import DATA_ENV, data_dir


def data_root() -> Path:
    """The shared data directory; a clear error says which variable to set."""
    root = data_dir()
    if not root.is_dir():
        raise DataError(
            f"data directory {root} does not exist: set {DATA_ENV} to the directory "
            f"holding ner/ (MasakhaNER) and pos/ (UD), e.g. export {DATA_ENV}=/path/to/shared/data"
        )
    return root.resolve()


def _hf_files(task: str, ref: str, lang: str) -> SplitFiles:
    from engine.data.hf_data import hf_split_files  # lazy: pulls in datasets / pyarrow only when used

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


RESOLVERS: dict[str, Callable[[str, str], SplitFiles]] = {"ner": ner_files, "pos": pos_files}


def task_files(task: str, ref: str, lang: str) -> SplitFiles:
    return RESOLVERS[task](ref, lang)
