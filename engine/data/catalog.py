"""Where each (task, language) dataset lives on disk.

A grid names data by catalog name (``masakhaner`` for NER; ``ud`` or ``ud:en_ewt``
for POS; ``afrisenti`` for sentiment), by a local directory, or by a Hugging Face dataset (``hf:org/name[:config]``
or ``hf:<local copy>``, see engine.data.hf_source). The catalog resolves under ``$XLTUI_DATA``
(default ``../shared/data``) so grids stay portable between machines; local
directories are used as given; Hugging Face data is converted once into cached
CoNLL / CoNLL-U files (engine.data.hf_data) or TSVs of tweets (engine.data.hf_sentiment), so
every reader downstream sees plain files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from engine.data.refs import (
    AFRISENTI,
    AFRISENTI_LANGUAGES,
    LANGUAGE_DIR_ALIASES,
    NER_CATALOG,
    SENTIMENT_DIR,
    SENTIMENT_ENGLISH,
    SENTIMENT_LANGUAGE_ALIASES,
    SPLITS,
    UD_CATALOG,
    UD_DEFAULT_TREEBANK,
    XLMT_FOLDER,
    DataError,
    SplitFiles,
    is_catalog_name,
    is_hf_ref,
    pos_split_files,
    sentiment_language,
    wrong_catalog,
)
from engine.data.sentiment import split_file
from engine.settings import DATA_ENV, data_dir


def data_root() -> Path:
    """The shared data directory; a clear error says which variable to set."""
    root = data_dir()
    if not root.is_dir():
        raise DataError(
            f"data directory {root} does not exist: set {DATA_ENV} to the directory holding ner/ (MasakhaNER), "
            f"pos/ (UD) and sentiment/ (AfriSenti), e.g. export {DATA_ENV}=/path/to/shared/data"
        )
    return root.resolve()


def _hf_files(task: str, ref: str, lang: str) -> SplitFiles:
    from engine.data.hf_data import hf_split_files  # lazy: pulls in datasets / pyarrow only when used

    return hf_split_files(task, ref, lang)


def _language_dir(base: Path, lang: str, names: list[str] | None = None) -> Path | None:
    for name in names or (lang, LANGUAGE_DIR_ALIASES.get(lang, lang)):
        if (base / name).is_dir():
            return base / name
    return None


def _local_folder(ref: str, lang: str, names: list[str] | None = None) -> Path:
    """A local data directory: its per-language subfolder (one of ``names``) if there is one, else itself."""
    base = Path(ref)
    if not base.is_dir():
        raise DataError(f"data directory {ref} does not exist")
    return _language_dir(base, lang, names) or base


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
        raise wrong_catalog(ref, "ner")
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
    elif is_catalog_name(ref):
        raise wrong_catalog(ref, "pos")
    else:
        folder = _local_folder(ref, lang)
    found = _found({s: sorted(folder.glob(f"*-ud-{s}.conllu")) + [folder / f"{s}.conllu"] for s in SPLITS})
    if not any(found.values()):
        raise DataError(f"{folder}: no *-ud-{{train,dev,test}}.conllu files for language '{lang}'")
    return pos_split_files(found, folder.name)


def _sentiment_names(lang: str) -> list[str]:
    """Folder names a language may have: its code, the AfriSenti code of an alias, every alias of that."""
    code = sentiment_language(lang)
    names = [lang, LANGUAGE_DIR_ALIASES.get(lang, lang), code]
    names += [alias for alias, real in SENTIMENT_LANGUAGE_ALIASES.items() if real == code]
    if lang in SENTIMENT_ENGLISH:
        names += [*SENTIMENT_ENGLISH, XLMT_FOLDER]
    return list(dict.fromkeys(names))


def _afrisenti_folder(lang: str) -> Path:
    base = data_root() / SENTIMENT_DIR
    if lang in SENTIMENT_ENGLISH:
        folder = base / XLMT_FOLDER
    else:
        code = sentiment_language(lang)
        if code not in AFRISENTI_LANGUAGES:
            raise DataError(f"{AFRISENTI}: no language '{lang}' (AfriSenti: {', '.join(AFRISENTI_LANGUAGES)}; "
                            f"English: en, the XLM-T tweets)")
        folder = base / AFRISENTI / code
    if not folder.is_dir():
        raise DataError(f"{AFRISENTI}: no folder {folder} for language '{lang}'")
    return folder


def sentiment_files(ref: str, lang: str) -> SplitFiles:
    """Resolve a sentiment reference (``afrisenti``, ``hf:...`` or a directory) to labelled-text files.

    ``afrisenti`` is ``$XLTUI_DATA/sentiment/afrisenti/<code>/`` (the code or an alias of it,
    engine.data.refs.SENTIMENT_LANGUAGE_ALIASES), English (``en``/``eng``) the XLM-T tweets in
    ``sentiment/en_xlmt/``. A directory holds ``{train,dev,test}.tsv`` or XLM-T's
    ``{train,val,test}_text.txt``, itself or in a folder per language. A split file with a
    header and no tweet (AfriSenti's Oromo and Tigrinya train) is no split.
    """
    if is_hf_ref(ref):
        from engine.data.hf_sentiment import hf_sentiment_files  # lazy: pyarrow / datasets only when used

        return hf_sentiment_files(ref, lang)
    if ref == AFRISENTI:
        folder = _afrisenti_folder(lang)
    elif is_catalog_name(ref):
        raise wrong_catalog(ref, "sentiment")
    else:
        folder = _local_folder(ref, lang, _sentiment_names(lang))
    files = SplitFiles(**{s: split_file(folder, s) for s in SPLITS})
    if files.train is None and files.dev is None and files.test is None:
        raise DataError(f"{folder}: no train.tsv, dev.tsv or test.tsv (nor XLM-T train_text.txt, val_text.txt, "
                        f"test_text.txt) with tweets for language '{lang}'")
    return files


RESOLVERS: dict[str, Callable[[str, str], SplitFiles]] = {"ner": ner_files, "pos": pos_files,
                                                          "sentiment": sentiment_files}


def task_files(task: str, ref: str, lang: str) -> SplitFiles:
    return RESOLVERS[task](ref, lang)
