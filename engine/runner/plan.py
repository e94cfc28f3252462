"""Planning a study's runs before they are queued: what each run must wait for.

A MAD-X run needs one language adapter per language (MLM-trained, shared by every
run and study that needs the same one: model, language, adapter config, MLM steps,
seed and text; a released adapter named in ``pretrained`` is loaded instead), and a few-shot run continues from the zero-shot run it names in
``init_from``. The plan says so; the queue (engine.store.queue) only stores runs and
their dependencies, without knowing why. Pure and light (no torch).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Engine

from engine.spec import LangAdapterSpec, RunSpec
from engine.store.queue import EnqueueReport, PlannedRun, enqueue


def text_ref(spec: RunSpec, lang: str) -> str:
    """``file:<path>`` when the grid names a text file, else ``<task>:<data ref>``."""
    assert spec.madx is not None
    given = spec.madx.lang_adapter.text.get(lang)  # the grid already made it 'file:<abs>' or '<task>:<data>'
    return f"{spec.task}:{spec.data[lang]}" if given is None else given


def lang_adapter_specs(spec: RunSpec) -> dict[str, LangAdapterSpec]:
    """language -> the adapter run it needs, for every source and target language of a MAD-X run
    whose adapter is not a released one (those are loaded, not trained)."""
    if spec.madx is None:
        return {}
    params = spec.madx.lang_adapter.trained_params()
    return {lang: LangAdapterSpec(model=spec.model, language=lang, text=text_ref(spec, lang), adapter=params,
                                  seed=spec.seed)
            for lang in spec.languages if lang not in spec.madx.lang_adapter.pretrained}


def plan(specs: Sequence[RunSpec]) -> list[PlannedRun]:
    """Each run with what it waits for: its zero-shot parent (same study) and its language adapters (shared)."""
    return [PlannedRun(spec, after=(spec.init_from,) if spec.init_from is not None else (),
                       shared=tuple(lang_adapter_specs(spec).values())) for spec in specs]


def queue_runs(engine: Engine, study: str, specs: Sequence[RunSpec], **options) -> EnqueueReport:
    """Plan ``specs`` and queue them in one transaction (options: see engine.store.queue.enqueue)."""
    return enqueue(engine, study, plan(specs), **options)
