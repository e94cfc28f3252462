"""Released language adapters made in the test, in the two forms the ``adapters`` library loads:
the one it saves today, and the legacy one AdapterHub's MAD-X adapters were published in
(adapter-transformers v1: a nested ``invertible_adapter`` config, ``type: text_lang``, and
``layer_text_lang_adapters`` / ``invertible_lang_adapters`` weight names)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.support.env import DATA

LEGACY_NAMES = ((".adapters.", ".layer_text_lang_adapters."), ("invertible_adapters.", "invertible_lang_adapters."))


def train_released(folder: Path, lang: str = "swa", steps: int = 4) -> Path:
    """A MiniLM language adapter MLM-trained on a little real text, saved by the library (today's form)."""
    from engine.data.conll import read_conll
    from engine.spec import LangAdapterParams, LangAdapterSpec
    from engine.training.madx import train_language_adapter

    spec = LangAdapterSpec(model="minilm", language=lang, text="ner:masakhaner",
                           adapter=LangAdapterParams(mlm_steps=steps, batch_size=8, max_length=32), seed=7)
    text = [s.tokens for s in read_conll(DATA / "ner" / lang / "train.txt", limit=32)]
    return train_language_adapter(spec, text, folder, "cpu", log=lambda _: None)


def legacy_copy(modern: Path, folder: Path) -> Path:
    """The same weights in the legacy form: v1 config layout and weight names, ``pytorch_adapter.bin``."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    saved = json.loads((modern / "adapter_config.json").read_text())
    config = saved["config"]
    legacy_config = {k: v for k, v in config.items()
                     if k not in ("architecture", "inv_adapter", "inv_adapter_reduction_factor") and not k.startswith("phm")}
    legacy_config["invertible_adapter"] = {"block_type": config["inv_adapter"], "non_linearity": config["non_linearity"],
                                           "reduction_factor": config["inv_adapter_reduction_factor"]}
    (folder / "adapter_config.json").write_text(json.dumps({
        "config": legacy_config, "hidden_size": saved["hidden_size"], "model_class": "BertModelWithHeads",
        "model_name": saved["model_name"], "model_type": saved["model_type"], "name": saved["name"],
        "type": "text_lang"}, indent=1))
    weights = torch.load(modern / "pytorch_adapter.bin", weights_only=True)
    renamed = {}
    for key, value in weights.items():
        for new, old in LEGACY_NAMES:
            key = key.replace(new, old)
        renamed[key] = value
    assert renamed.keys() != weights.keys(), "the legacy copy must use the legacy weight names"
    torch.save(renamed, folder / "pytorch_adapter.bin")
    return folder


def safetensors_copy(modern: Path, folder: Path) -> Path:
    """Today's form saved with safetensors instead of a pickle."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(modern / "adapter_config.json", folder / "adapter_config.json")
    save_file(torch.load(modern / "pytorch_adapter.bin", weights_only=True), folder / "adapter.safetensors")
    return folder


def with_config(modern: Path, folder: Path, **changes) -> Path:
    """A copy whose adapter_config.json says something else (another model type, hidden size)."""
    shutil.copytree(modern, folder)
    saved = json.loads((folder / "adapter_config.json").read_text())
    saved.update(changes)
    (folder / "adapter_config.json").write_text(json.dumps(saved))
    return folder


class Payload:
    """What a hostile weights file could unpickle: any callable, here a harmless one."""

    def __reduce__(self):
        return (print, ("unpickled",))


def pickled_code(modern: Path, folder: Path) -> Path:
    """A copy whose weights file holds an object that unpickling would call."""
    import torch

    shutil.copytree(modern, folder)
    weights = torch.load(folder / "pytorch_adapter.bin", weights_only=True)
    weights["payload"] = Payload()
    torch.save(weights, folder / "pytorch_adapter.bin")
    return folder


def fake_hub_cache(root: Path, repo: str, adapter: Path, monkeypatch) -> tuple[str, str]:
    """``adapter`` laid out as huggingface_hub caches a downloaded repo (``models--org--name/snapshots/<commit>``,
    ``refs/main``), that cache made the process's own and the hub offline: (repo id, commit)."""
    import hashlib

    import huggingface_hub.constants as hub

    commit = hashlib.sha1(repo.encode()).hexdigest()
    folder = root / f"models--{repo.replace('/', '--')}"
    shutil.copytree(adapter, folder / "snapshots" / commit)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(root))
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return repo, commit
