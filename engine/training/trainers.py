"""Which trainer runs which kind of run: a name -> implementation table (as the ``adapters``
library's ``methods/__init__.py`` maps method names to classes).

The key is the spec's ``trainer`` (engine.spec): ``lang-adapter`` for a MAD-X language
adapter, ``zero-shot`` for training on the source languages, ``few-shot`` for a run
that continues a zero-shot run on K target sentences. Each takes
``(spec, files, writer, device, inputs, log)`` (engine.training.inputs). Entries are
``module:function`` and imported on use, so a full fine-tuning run never pays for
importing ``adapters``.
"""

from __future__ import annotations

import importlib

from engine.spec import LangAdapterSpec, RunSpec
from engine.training.inputs import Trainer

TRAINERS: dict[str, str] = {
    "lang-adapter": "engine.training.madx:train_lang_adapter_run",
    "zero-shot": "engine.training.tagging:train_and_evaluate",
    "few-shot": "engine.training.fewshot:train_and_evaluate",
}


def trainer_for(spec: RunSpec | LangAdapterSpec) -> Trainer:
    """The trainer of a spec, from the table."""
    module, _, name = TRAINERS[spec.trainer].partition(":")
    return getattr(importlib.import_module(module), name)
