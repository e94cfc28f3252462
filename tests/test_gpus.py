"""engine.gpus, the one GPU probe: what it reads, and that a CPU box, a failing NVML and a lost GPU
are three different answers. The NVIDIA library is replaced by a stand-in (tests/support/nvml.py)
where a failure must be scheduled; the last test reads the real NVML of this machine (none on a
CPU box, every GPU on a GPU box)."""

from __future__ import annotations

import sys

import pytest

from engine.gpus import GIB, GpuError, fake_gpus, gpu_count, read_gpus
from engine.settings import TEST_GPUS_ENV
from tests.support.nvml import StandInNvml, h100


@pytest.fixture
def nvml(monkeypatch: pytest.MonkeyPatch):
    """Install a stand-in NVML with the GPUs a test passes; returns it."""
    monkeypatch.delenv(TEST_GPUS_ENV, raising=False)

    def install(gpus, **kw) -> StandInNvml:
        lib = StandInNvml(gpus, **kw)
        monkeypatch.setitem(sys.modules, "pynvml", lib)
        return lib

    return install


def test_every_gpu_with_its_memory_utilisation_and_processes(nvml):
    lib = nvml([h100(used_gib=31.5, util=87.0, processes={4242: 30 * GIB}), h100(uuid="GPU-abc", util=None)])
    gpus = read_gpus()
    assert [(g.id, g.name, g.total_bytes, g.used_bytes, g.util_percent) for g in gpus] == [
        ("0", "NVIDIA H100 80GB HBM3", 80 * GIB, int(31.5 * GIB), 87.0),
        ("1", "NVIDIA H100 80GB HBM3", 80 * GIB, int(0.5 * GIB), None)]  # utilisation not supported: unknown
    assert gpus[0].used_by_pid == {}  # processes only on request (the worker's packing asks)
    assert read_gpus(["0"], processes=True)[0].used_by_pid == {4242: 30 * GIB}
    assert [g.id for g in read_gpus(["GPU-abc"])] == ["GPU-abc"]  # a scheduler's UUID, as CUDA_VISIBLE_DEVICES says
    assert gpu_count() == 2
    assert lib.inits == 1  # initialised once per process, not per probe


def test_a_cpu_box_has_no_gpus_and_no_error(nvml):
    nvml([h100()], init_errors=[StandInNvml.NVML_ERROR_LIBRARY_NOT_FOUND, StandInNvml.NVML_ERROR_DRIVER_NOT_LOADED])
    assert read_gpus() == []
    assert gpu_count() == 0


def test_nvml_failing_says_what_failed_and_is_started_again_next_time(nvml):
    lib = nvml([h100()], init_errors=[StandInNvml.NVML_ERROR_UNKNOWN])
    with pytest.raises(GpuError, match=r"^NVML nvmlInit failed: Unknown Error$") as failed:
        read_gpus()
    assert failed.value.gpus == []
    assert [g.id for g in read_gpus()] == ["0"]  # the next probe starts NVML again and reads the GPU
    assert lib.inits == 2


def test_a_lost_gpu_is_named_and_the_others_still_read(nvml):
    lib = nvml([h100(), h100(), h100()])
    lib.gpus[1].lost = True
    with pytest.raises(GpuError, match=r"^NVML GPU 1: nvmlDeviceGetMemoryInfo failed: GPU is lost$") as failed:
        read_gpus()
    assert [g.id for g in failed.value.gpus] == ["0", "2"]
    with pytest.raises(GpuError, match="GPU 7: nvmlDeviceGetHandleByIndex failed: Invalid Argument"):
        read_gpus(["0", "7"])  # an id NVML does not know
    lib.gpus[1].lost = False  # reset: back on the bus
    assert [g.id for g in read_gpus()] == ["0", "1", "2"]
    assert lib.inits == 3  # NVML is started again after each failure


def test_fake_gpus_replace_nvml(nvml, monkeypatch):
    lib = nvml([h100()], init_errors=[StandInNvml.NVML_ERROR_UNKNOWN])
    monkeypatch.setenv(TEST_GPUS_ENV, "80,40:10")
    assert [(g.id, g.total_bytes, g.free_bytes) for g in read_gpus()] == [("0", 80 * GIB, 80 * GIB),
                                                                        ("1", 40 * GIB, 10 * GIB)]
    assert [g.id for g in read_gpus(["1", "5"])] == ["1"]
    assert gpu_count() == 2
    assert lib.inits == 0  # NVML never touched
    assert fake_gpus("12")[0].name == "fake GPU"


def test_the_real_nvml_of_this_machine(monkeypatch):
    monkeypatch.delenv(TEST_GPUS_ENV, raising=False)
    gpus = read_gpus(processes=True)  # a CPU box: [] without an error; a GPU box: every GPU
    assert len(gpus) == gpu_count()
    assert all(0 <= g.free_bytes <= g.total_bytes and g.name for g in gpus)
