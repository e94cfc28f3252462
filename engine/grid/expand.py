"""A validated grid → the runs it stands for.

Axes: task × model × alignment weight × setting (zero-shot, or few-shot with K) × seed. A zero-shot run
trains once and evaluates every target, so targets are not an axis there; a
few-shot run is per (K, target) and continues from the zero-shot run of the same
(model, task, source, seed), which is therefore always part of the expansion.
"""

from __future__ import annotations

import itertools

from engine.grid.options import system_name
from engine.grid.schema import MADX_LR, Grid
from engine.spec import PretrainedAdapter, RunSpec, TrainParams


def _targets(grid: Grid, axes: dict) -> list[str] | None:
    """The targets left after excludes, or None when the run is excluded whole."""
    targets = list(grid.targets)
    for ex in grid.exclude:
        if ex.matches(**axes):
            if ex.target is None:
                return None
            targets = [t for t in targets if t != ex.target]
    return targets or None


def expand(grid: Grid) -> list[RunSpec]:
    """One RunSpec per task × model × setting × seed (× target for few-shot), after
    excludes, without duplicates; zero-shot parents come before their few-shot runs.

    Hyperparameters: TrainParams defaults < grid ``train`` (< lr 1e-4 for adapter methods) < the model entry.
    """
    specs: dict[str, RunSpec] = {}
    settings = grid.setting_axis()
    weights = grid.alignment.weight if grid.alignment else (0.0,)
    for task, entry, weight, seed in itertools.product(grid.task, grid.models, dict.fromkeys(weights), grid.seeds):
        method_lr = {"lr": MADX_LR} if entry.method != "full" else {}
        train = TrainParams.model_validate({**grid.train.model_dump(), **method_lr, **entry.overrides()})

        def spec(setting: str, targets: list[str], k: int | None = None, parent: str | None = None) -> RunSpec:
            targets = sorted(targets)
            align = grid.alignment.params(weight, tuple(targets)) if grid.alignment else None
            return RunSpec(task=task, model_name=system_name(entry.name, weight), model=entry.model,
                           method=entry.method, source=grid.source, targets=tuple(targets), setting=setting, k=k,
                           seed=seed,
                           data={lang: grid.data_ref(task, lang) for lang in dict.fromkeys(grid.source + tuple(targets))},
                           train=train, madx=entry.madx(), adapter=entry.adapter(), init_from=parent, labels=grid.labels, align=align,
                           fewshot_pool=grid.fewshot_pool(targets[0]) if k else None)

        base = dict(model=entry.name, task=task, source=grid.source, seed=seed)
        zero_targets = _targets(grid, {**base, "setting": "zero-shot"})
        few_targets = _targets(grid, {**base, "setting": "few-shot"}) if any(k for _, k in settings) else None
        if zero_targets is None and few_targets is None:
            continue
        parent = spec("zero-shot", zero_targets or few_targets or [])
        specs.setdefault(parent.spec_hash(), parent)
        for _, k in settings:
            for target in (few_targets or []) if k else ():
                child = spec("few-shot", [target], k, parent.spec_hash())
                specs.setdefault(child.spec_hash(), child)
    return list(specs.values())


def _where(adapter: PretrainedAdapter, cached) -> str:
    if adapter.is_local:
        return f"{adapter.source}, {adapter.revision}"
    if adapter.revision and cached(adapter.source, adapter.revision) is not None:
        return f"{adapter.source}@{adapter.revision[:12]}"
    return f"{adapter}, not in the local cache: fetched at run time"


def language_adapters(specs: list[RunSpec]) -> list[str]:
    """Per MAD-X model entry, which language adapters are loaded (released: from where, at which revision,
    or fetched at run time) and which are trained: one line each, as ``xltui grid show`` prints them."""
    from engine.data.released import cached_snapshot

    loaded: dict[str, dict[str, str]] = {}
    trained: dict[str, set[str]] = {}
    for spec in specs:
        if spec.madx is None:
            continue
        released = spec.madx.lang_adapter.pretrained
        for lang in spec.languages:
            if lang in released:
                loaded.setdefault(spec.model_name, {})[lang] = _where(released[lang], cached_snapshot)
            else:
                trained.setdefault(spec.model_name, set()).add(lang)
    lines = []
    for name in dict.fromkeys([*loaded, *trained]):
        parts = [f"loaded {lang} ({where})" for lang, where in sorted(loaded.get(name, {}).items())]
        if trained.get(name):
            parts.append("trained " + ", ".join(sorted(trained[name])))
        lines.append(f"{name}: language adapters " + "; ".join(parts))
    return lines
