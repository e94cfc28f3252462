"""Several runs per GPU, admitted by memory (engine.runner.packing): the policy on fake GPU states,
the estimate for shapes never seen, and the peaks learnt from a real database's finished runs."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from engine.runner.packing import (
    ACTIVATION_BYTES_PER_TOKEN,
    DEFAULT_MARGIN_BYTES,
    GpuState,
    Measured,
    Shape,
    admit,
    estimate_peak,
    expected_peak,
    measured_runs,
    shape_of,
)
from engine.runner.plan import queue_runs
from engine.store import queue, requests
from engine.store.db import open_db
from engine.store.results import RunOutput, record_output
from engine.store.schema import Result
from tests.support.specs import specs

GB = 1 << 30
XLMR = Shape("xlm-roberta-base", "full", 32, 128, "auto")


def gpu(index: int, free_gb: float, runs: int = 0, total_gb: float = 80) -> GpuState:
    return GpuState(str(index), int(total_gb * GB), int(free_gb * GB), runs)


def test_the_estimate_covers_optimizer_state_and_a_full_batch_of_activations():
    n = 278_000_000  # XLM-R base
    assert estimate_peak(n, XLMR) == 16 * n + 32 * 128 * ACTIVATION_BYTES_PER_TOKEN
    assert 6 * GB < estimate_peak(n, XLMR) < 7 * GB
    madx = Shape("xlm-roberta-base", "madx", 32, 128, "auto")
    assert estimate_peak(n, madx, trainable=1_500_000) == 4 * (n - 1_500_000) + 16 * 1_500_000 + 32 * 128 * \
        ACTIVATION_BYTES_PER_TOKEN  # frozen weights cost only themselves


def test_a_measured_peak_of_the_same_shape_beats_the_estimate():
    other = Shape("xlm-roberta-base", "full", 16, 128, "auto")
    history = [Measured(s, peak, None, None, None) for s, peak in ((XLMR, 5 * GB), (XLMR, 6 * GB), (other, 3 * GB))]
    assert expected_peak(XLMR, history) == (6 * GB, "measured (2 runs)")
    unseen = Shape("bert-base-multilingual-cased", "full", 32, 128, "auto")  # its published size: 178 M
    assert expected_peak(unseen, history) == (estimate_peak(178_000_000, unseen),
                                              "estimated from the parameter count")


@pytest.mark.parametrize("gpus, need_gb, limit, expected", [
    ([gpu(0, 79), gpu(1, 79.5)], 7, None, 1),  # idle GPUs: the one with most free memory
    ([gpu(0, 60, runs=2), gpu(1, 79, runs=0)], 7, None, 1),  # an idle GPU before packing a busy one
    ([gpu(0, 60, runs=2), gpu(1, 40, runs=3)], 7, None, 0),  # both busy: the freer one, memory permitting
    ([gpu(0, 8, runs=1), gpu(1, 8.5, runs=1)], 7, None, None),  # 7 GB + the 2 GB margin fits neither: wait
    ([gpu(0, 60, runs=2), gpu(1, 60, runs=2)], 7, 2, None),  # --runs-per-gpu 2 reached everywhere
    ([gpu(0, 60, runs=2), gpu(1, 60, runs=1)], 7, 2, 1),
    ([gpu(0, 15, total_gb=16)], 20, None, 0),  # an idle GPU always takes a run (an OOM there is retried smaller)
    ([], 7, None, None),
])
def test_admission_by_free_memory_and_runs_per_gpu(gpus, need_gb, limit, expected):
    assert admit(gpus, int(need_gb * GB), runs_per_gpu=limit) == (None if expected is None else str(expected))


def test_the_margin_is_part_of_the_fit():
    busy = [gpu(0, 9, runs=1)]
    assert admit(busy, 7 * GB, runs_per_gpu=None) == "0"  # 7 + 2 = 9 GB fits exactly
    assert admit(busy, 7 * GB, runs_per_gpu=None, margin=DEFAULT_MARGIN_BYTES + 1) is None


def test_peaks_are_learnt_from_succeeded_runs_only(any_db):
    engine = open_db(any_db)
    a, b, c = queue_runs(engine, "s", specs(3)).new
    for run_id, peak in ((a, 3 * GB), (b, None), (c, 5 * GB)):
        claim = queue.claim_next(engine, "w", "cuda:0")
        assert claim.run_id == run_id
        out = RunOutput()
        out.add_scores("en", "train", {"steps": 10.0, **({"peak_gpu_bytes": float(peak)} if peak else {})})
        if run_id == c:  # cancelled while it ran: its results are kept, but it is no finished run to learn from
            requests.cancel(engine, [c])
            assert not record_output(engine, run_id, claim.attempt_id, "w", out)
        else:
            assert record_output(engine, run_id, claim.attempt_id, "w", out)
    with Session(engine) as s:
        assert len(s.exec(select(Result).where(Result.metric == "peak_gpu_bytes")).all()) == 2
    shape = shape_of(specs(1)[0].canonical_json())
    assert shape == Shape("tiny", "full", 32, 128, "auto")
    assert [(m.shape, m.peak_bytes) for m in measured_runs(engine) if m.peak_bytes is not None] == [(shape, 3 * GB)]


def test_the_nvml_probe_reads_every_visible_gpu_or_none():
    from engine.runner.admission import probe_gpus
    from engine.runner.devices import count_gpus

    ids = [str(i) for i in range(count_gpus())]
    states = probe_gpus(ids)
    assert [g.id for g in states] == ids  # none on a machine without NVML: nothing is packed
    assert all(0 < g.free_bytes <= g.total_bytes for g in states)
