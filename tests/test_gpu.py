"""CUDA paths: a real run on GPU 0 through a worker records GPU memory samples and
finishes under bf16 autocast. Skipped (and says so) on machines without a GPU."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from engine.runner.devices import count_gpus
from engine.store.db import open_db
from engine.store.schema import Result, SystemSample
from tests.conftest import xltui
from tests.test_worker import enqueue_grid, runs

pytestmark = pytest.mark.skipif(count_gpus() == 0, reason="no NVIDIA GPU visible (NVML): CUDA paths need one")


def test_a_run_on_gpu_records_gpu_memory(db, tiny_grid):
    (run_id,) = enqueue_grid(db, tiny_grid(epochs=2, train=64, eval=32))
    xltui("worker", "--db", db, "--gpus", "0", "--exit-when-idle", check=True)
    (run,) = runs(db)
    assert run.status == "succeeded" and run.device == "cuda:0", run.error
    with Session(open_db(db)) as s:
        samples = s.exec(select(SystemSample).where(SystemSample.run_id == run_id)).all()
        assert any((x.gpu_peak_bytes or 0) > 0 for x in samples)
        peak = s.exec(select(Result).where(Result.run_id == run_id, Result.metric == "peak_gpu_bytes")).one()
        assert peak.value > 0
