"""A run's system samples (engine.store.telemetry): the GPU memory the run process hands in as plain
numbers is stored as given, its GPU's utilisation comes from engine.gpus (a stand-in NVIDIA library
here, tests/support/nvml.py), and off a GPU only RSS is sampled. The store never looks for torch."""

from __future__ import annotations

import sys

import pytest
from sqlmodel import Session, select

from engine.settings import TEST_GPUS_ENV
from engine.store.schema import SystemSample
from engine.store.telemetry import CudaMemory, MetricWriter, SystemSampler, gpu_utilisation
from tests.support.nvml import StandInNvml, h100
from tests.support.stored_runs import writer_on


def samples(writer: MetricWriter) -> list[tuple]:
    writer.flush()
    with Session(writer.engine) as s:
        return [(r.device, r.gpu_allocated_bytes, r.gpu_reserved_bytes, r.gpu_peak_bytes, r.gpu_util_percent,
                 r.rss_bytes > 0) for r in s.exec(select(SystemSample).order_by(SystemSample.id)).all()]


@pytest.fixture
def nvml(monkeypatch: pytest.MonkeyPatch) -> StandInNvml:
    monkeypatch.delenv(TEST_GPUS_ENV, raising=False)
    lib = StandInNvml([h100(util=12.0), h100(uuid="GPU-b", util=64.0)])
    monkeypatch.setitem(sys.modules, "pynvml", lib)
    return lib


def test_gpu_memory_handed_in_is_stored_with_the_gpus_utilisation(db, nvml, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    writer = writer_on(db, "cuda:0")
    counters = iter([None, CudaMemory(3 << 30, 4 << 30, 5 << 30)])  # before CUDA is up, then after
    sampler = SystemSampler(writer, "cuda:0", gpu_memory=lambda: next(counters))
    sampler.take()
    sampler.take()
    assert samples(writer) == [("cuda:0", None, None, None, None, True),
                               ("cuda:0", 3 << 30, 4 << 30, 5 << 30, 64.0, True)]


def test_utilisation_of_the_first_visible_gpu_by_index_or_uuid(nvml, monkeypatch):
    for visible, util in (("0,1", 12.0), ("GPU-b", 64.0), ("-1", None), ("", None), ("5", None)):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
        assert gpu_utilisation() == util, visible
    nvml.gpus[0].lost = True
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert gpu_utilisation() is None  # a GPU lost under a run: unknown, never a failed run


def test_off_a_gpu_only_rss_is_sampled(db):
    writer = writer_on(db, "cuda:0")
    SystemSampler(writer, "cpu").take()
    assert samples(writer) == [("cpu", None, None, None, None, True)]
