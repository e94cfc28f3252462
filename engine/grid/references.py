"""How the references a grid writes resolve: models, datasets, text datasets, language codes.

Model references (field ``models[i].model``), checked in this order:

1. a preset name (``tiny``, ``minilm``) is kept as is;
2. a string that *looks like a path* -- starts with ``/``, ``.`` or ``~``, contains
   a backslash, or has more than one ``/`` -- is a local directory, resolved
   against the grid file's directory; it must exist and hold ``config.json``;
3. otherwise, if ``<grid dir>/<string>/config.json`` exists, it is that local
   directory (the same preference as ``from_pretrained``);
4. otherwise it must be a hub id: ``name`` or ``org/name`` of ``[A-Za-z0-9._-]``.

Local paths are stored absolute so a run means the same thing from any cwd. Each
resolver is a pydantic validator: a problem becomes one ``file:line: field:`` error.
"""

from __future__ import annotations

import re

from pydantic import ValidationInfo
from pydantic_core import PydanticCustomError

from engine.data.hf_source import HUB_ID
from engine.data.refs import CATALOG_NAMES, DataError, is_catalog_name, is_hf_ref
from engine.grid.options import grid_dir, grid_path
from engine.spec import MODEL_PRESETS

LANG_CODE = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]+)*")


def check_lang(value: str) -> str:
    if not LANG_CODE.fullmatch(value):
        raise PydanticCustomError("language", f"'{value}' is not a language code (like 'en', 'swa', 'pt-BR')")
    return value


def looks_like_path(ref: str) -> bool:
    """True when a model string can only be meant as a local directory."""
    return ref.startswith(("/", ".", "~")) or "\\" in ref or ref.count("/") > 1


def resolve_model(ref: str, info: ValidationInfo) -> str:
    if ref in MODEL_PRESETS:
        return ref
    if looks_like_path(ref) or (grid_dir(info) / ref / "config.json").is_file():
        path = grid_path(ref, info)
        if not path.is_dir():
            raise PydanticCustomError("model_path", f"local model directory {path} does not exist")
        if not (path / "config.json").is_file():
            raise PydanticCustomError("model_path", f"{path} has no config.json (not a saved Hugging Face model)")
        return str(path)
    if not HUB_ID.fullmatch(ref):
        raise PydanticCustomError("model_ref", f"'{ref}' is not a preset ({', '.join(MODEL_PRESETS)}), a local "
                    "directory, or a hub id like 'xlm-roberta-base' or 'org/name'")
    return ref


def resolve_data_ref(ref: str, info: ValidationInfo) -> str:
    if is_catalog_name(ref):
        return ref
    if not ref.strip():
        raise PydanticCustomError("data_ref", f"empty data reference; use a catalog name ({', '.join(CATALOG_NAMES)}) or a directory")
    if is_hf_ref(ref):  # hub ids stay as written; a local copy's path becomes absolute (engine.data.hf_source)
        from engine.data.hf_source import resolve_hf_ref

        try:
            return resolve_hf_ref(ref, grid_dir(info))
        except DataError as exc:
            raise PydanticCustomError("data_ref", str(exc)) from None
    path = grid_path(ref, info)
    if not path.exists() and "/" in ref and HUB_ID.fullmatch(ref) and not looks_like_path(ref):
        raise PydanticCustomError("data_ref", f"no directory {path}; for the Hugging Face dataset write 'hf:{ref}'")
    return str(path)


def hf_text_ref(ref: str, lang: str, info: ValidationInfo) -> str:
    """A text dataset reference as stored; a local copy is read now, a hub id when its adapter trains."""
    from engine.data.hf_source import parse_hf_ref, resolve_hf_ref
    from engine.data.hf_text import hf_text

    try:
        resolved = resolve_hf_ref(ref, grid_dir(info))
        if parse_hf_ref(resolved).local and not hf_text(resolved, lang, 1):
            raise DataError(f"{resolved}: no text lines for '{lang}'")
    except DataError as exc:
        raise PydanticCustomError("text_ref", f"lang_adapter.text.{lang}: {exc}") from None
    return resolved
