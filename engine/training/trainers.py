"""Which trainer runs which kind of run: a name -> implementation table (as the ``adapters``
library's ``methods/__init__.py`` maps method names to classes).

The key is the spec's ``trainer`` (engine.spec): ``lang-adapter`` for a language adapter
a MAD-X run needs (a LangAdapterSpec), ``zero-shot`` for every run that continues no
other run (any method: trained on the source languages, tested on every target),
``few-shot`` for a run that continues a zero-shot run on K target sentences.

Every trainer is a ``Trainer`` (engine.training.inputs): the run process calls it as
``trainer(spec, files, writer, device, inputs)`` — the spec, its RunFiles, the metric
writer (None outside a run process), the device name, and the RunInputs looked up in the
database — and it returns a RunOutput (engine.store.results) that the run process stores.
Each also takes an optional ``log`` (default ``print``), which tests and benchmarks
silence. Entries are ``module:function`` and imported on use, so a full fine-tuning run
never pays for importing ``adapters``.
"""

from __future__ import annotations

import importlib

from engine.spec import LangAdapterSpec, RunSpec
from engine.training.inputs import Trainer

TRAINERS: dict[str, str] = {
    "lang-adapter": "engine.training.madx:train_lang_adapter_run",
    "zero-shot": "engine.training.zeroshot:train_and_evaluate",
    "few-shot": "engine.training.fewshot:train_and_evaluate",
}


def trainer_for(spec: RunSpec | LangAdapterSpec) -> Trainer:
    """The trainer of a spec, from the table."""
    module, _, name = TRAINERS[spec.trainer].partition(":")
    return getattr(importlib.import_module(module), name)
