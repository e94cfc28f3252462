"""Helpers shared by tests (moved from tests/store/test_queue.py)."""

from __future__ import annotations

from engine.spec import RunSpec, TrainParams
from engine.tasks import TASKS


def specs(n: int, lr: float = 2e-5) -> list[RunSpec]:
    return [
        RunSpec(task="ner", model_name="tiny", model="tiny", method="full", source=("en",), targets=("swa",),
                setting="zero-shot", seed=seed, data={"en": "masakhaner", "swa": "masakhaner"},
                train=TrainParams(lr=lr))
        for seed in range(n)
    ]


def adapter_spec(method: str = "madx", task_adapter: dict | None = None, *, source: tuple[str, ...] = ("en",),
                 targets: tuple[str, ...] = ("swa",), leave_out: tuple[int, ...] = (), task: str = "ner",
                 model: str = "minilm", pretrained: dict | None = None, **train) -> RunSpec:
    """A MiniLM run of an adapter method: ``madx`` (language adapters + a task adapter) or ``adapter``
    (a task adapter alone); ``task_adapter`` is ``{config: NAME, **options}`` as a grid writes it."""
    from engine.spec import AdapterParams, LangAdapterParams, MadxParams, PretrainedAdapter, TaskAdapter

    options = dict(task_adapter or {})
    name = options.pop("config", None)
    chosen = TaskAdapter(config=name, options=options) if name else None
    setup: dict = {}
    if method == "madx":
        lang = LangAdapterParams(pretrained={k: PretrainedAdapter(source=str(v)) if not isinstance(v, PretrainedAdapter)
                                             else v for k, v in (pretrained or {}).items()})
        setup["madx"] = MadxParams(lang_adapter=lang, task_adapter=chosen, leave_out=leave_out)
    else:
        assert chosen is not None, "method adapter names its task adapter"
        setup["adapter"] = AdapterParams(task_adapter=chosen, leave_out=leave_out)
    langs = dict.fromkeys(source + targets)
    return RunSpec(task=task, model_name=method, model=model, method=method, source=source, targets=targets,
                   setting="zero-shot", seed=1, data={lang: TASKS[task].catalog for lang in langs},
                   train=TrainParams(**train), **setup)
