"""Databases the benchmarks share, built fast (queued through the engine, finished by direct updates)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def build_big_db(path: Path, n: int, study: str = "big") -> None:
    """n runs of the paper grid's shape in one study: a quarter finished, the rest queued."""
    sys.path.insert(0, str(REPO))
    from sqlalchemy import update

    from engine.runner.plan import queue_runs
    from engine.spec import RunSpec, RunStatus, TrainParams
    from engine.store.db import open_db
    from engine.store.schema import Run

    engine = open_db(str(path))
    specs = [RunSpec(task="ner", model_name="xlmr", model="xlm-roberta-base", method="full", source=("en",),
                     targets=("swa", "yor", "hau"), setting="zero-shot", seed=seed,
                     data={"en": "masakhaner", "swa": "masakhaner", "yor": "masakhaner", "hau": "masakhaner"},
                     train=TrainParams(lr=2e-5)) for seed in range(n)]
    queue_runs(engine, study, specs)
    with engine.begin() as conn:
        conn.execute(update(Run).where(Run.id % 4 == 0).values(status=RunStatus.SUCCEEDED, started_at=1.0e9,
                                                               finished_at=1.0e9 + 600))
    engine.dispose()


def adapter_run(model: str, method: str = "madx", task_adapter=None, leave_out: tuple[int, ...] = ()):
    """The spec of an English NER run of an adapter method on ``model`` (what engine.training.madx builds
    its model from): ``madx`` stacks ``task_adapter`` (a TaskAdapter, None: MAD-X's bottleneck) on the
    English language adapter, ``adapter`` trains it alone."""
    sys.path.insert(0, str(REPO))
    from engine.spec import AdapterParams, MadxParams, RunSpec, TrainParams

    setup = (dict(madx=MadxParams(task_adapter=task_adapter, leave_out=leave_out)) if method == "madx"
             else dict(adapter=AdapterParams(task_adapter=task_adapter, leave_out=leave_out)))
    return RunSpec(task="ner", model_name=method, model=model, method=method, source=("en",), targets=("swa",),
                   setting="zero-shot", seed=1, data={"en": "masakhaner", "swa": "masakhaner"},
                   train=TrainParams(), **setup)
