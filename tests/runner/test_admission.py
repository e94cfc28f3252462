"""Several runs per GPU (engine.runner.admission): the gate a worker's GPU slots pass before they
claim, on fake GPUs (memory budgets, several GPUs, shapes seen and unseen) and a real queue;
the throughput policy of ``auto``; and real workers with their run processes on fake GPUs
($XLTUI_TEST_GPUS: runs train on the CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from engine.gpus import Gpu, fake_gpus
from engine.runner.admission import AUTO_SLOTS_PER_GPU, GpuGate, parse_runs_per_gpu
from engine.runner.devices import DeviceError
from engine.runner.packing import (
    DEFAULT_MARGIN_BYTES,
    KNOWN_PARAMS,
    Measured,
    Shape,
    estimate_peak,
    level_throughput,
    packing_helps,
    shape_of,
)
from engine.runner.plan import queue_runs
from engine.runner.slot_setup import slot_options
from engine.settings import TEST_GPUS_ENV
from engine.spec import Outcome, RunSpec, RunStatus, TrainParams
from engine.store import queue
from engine.store.db import open_db
from engine.store.results import RunOutput, add_train_scores, record_output
from engine.store.schema import Attempt, Result, Run
from tests.support.attempts import overlap
from tests.support.env import xltui
from tests.support.workers import attempts, enqueue_grid

GB = 1 << 30
XLMR = "xlm-roberta-base"


def spec(seed: int, model: str = XLMR, batch: int = 32) -> RunSpec:
    return RunSpec(task="ner", model_name=model, model=model, method="full", source=("en",), targets=("swa",),
                   setting="zero-shot", seed=seed, data={"en": "masakhaner", "swa": "masakhaner"},
                   train=TrainParams(batch_size=batch))


class FakeGpus:
    """GPUs whose free memory a test sets; ``used`` says what NVML sees each process use."""

    def __init__(self, **free_gb: float) -> None:
        self.free = {g: int(v * GB) for g, v in free_gb.items()}
        self.used: dict[str, dict[int, int]] = {g: {} for g in free_gb}
        self.calls = 0

    def __call__(self, ids):
        self.calls += 1
        return [Gpu(g, "fake", 80 * GB, self.free[g], dict(self.used[g])) for g in ids if g in self.free]


class Queue:
    """A real queue whose claims go through one gate, as a worker's slots do."""

    def __init__(self, db: str, gate_gpus: FakeGpus, runs_per_gpu: int | None, gpu_ids=("0",)):
        self.engine = open_db(db)
        ticks = iter(range(0, 10 ** 9, 10))  # 10 s between looks: no decision is held over from the last one
        self.gate = GpuGate(self.engine, list(gpu_ids), runs_per_gpu, probe=gate_gpus, clock=lambda: float(next(ticks)))
        self.released: list[tuple[int, str]] = []

    def claim(self, slot: str, gpu: str, peek_override: str | None = None):
        def release(claim, why):
            self.released.append((claim.run_id, why))
            queue.finish(self.engine, claim, slot, Outcome.REQUEUED, why)

        peek = (lambda: peek_override) if peek_override else (lambda: queue.next_spec(self.engine))
        return self.gate.claim(slot, gpu, peek, lambda: queue.claim_next(self.engine, slot, f"cuda:{gpu}"), release)


def finish_measured(engine, claim, slot: str, peak_gb: float | None = None, tokens: float = 1000.0,
                    gpu_runs: float | None = None) -> None:
    """Record a claimed run as succeeded with the speed and memory a GPU run stores."""
    out = RunOutput()
    scores = {"tokens_per_s": tokens, "n_params": 278e6, **({"peak_gpu_bytes": peak_gb * GB} if peak_gb else {})}
    out.add_scores("en", "train", scores)
    assert record_output(engine, claim.run_id, claim.attempt_id, slot, out)
    if gpu_runs is not None:
        assert add_train_scores(engine, claim.run_id, claim.attempt_id, {"gpu_runs": gpu_runs})


def test_runs_per_gpu_flag():
    assert parse_runs_per_gpu(None) == 1 and parse_runs_per_gpu("3") == 3 and parse_runs_per_gpu("AUTO") is None
    for bad in ("0", "-1", "lots", "1.5"):
        with pytest.raises(DeviceError, match="--runs-per-gpu"):
            parse_runs_per_gpu(bad)


def test_slots_per_gpu_are_labelled_and_only_the_first_warms_at_start():
    opts = slot_options("sqlite:///x.db", ["cuda:0", "cuda:1"], runs_per_gpu=3)
    assert [o.label for o in opts] == ["cuda:0#1", "cuda:0#2", "cuda:0#3", "cuda:1#1", "cuda:1#2", "cuda:1#3"]
    assert [o.device for o in opts] == ["cuda:0"] * 3 + ["cuda:1"] * 3
    assert [o.warm_at_start for o in opts] == [True, False, False] * 2
    assert len(slot_options("sqlite:///x.db", ["cuda:0"], runs_per_gpu=None)) == AUTO_SLOTS_PER_GPU
    assert [o.label for o in slot_options("sqlite:///x.db", ["cuda:0"])] == [None]  # the default: one run per GPU


def test_fake_gpus_from_the_environment():
    assert [(g.id, g.total_bytes, g.free_bytes) for g in fake_gpus("80, 40:10")] == [
        ("0", 80 * GB, 80 * GB), ("1", 40 * GB, 10 * GB)]
    for bad in ("eighty", "40:50", "0"):
        with pytest.raises(ValueError, match=TEST_GPUS_ENV):
            fake_gpus(bad)


def test_an_idle_gpu_claims_without_probing(db):
    gpus = FakeGpus(**{"0": 1})  # 1 GB free: no run's estimate fits, but an idle GPU takes one anyway
    q = Queue(db, gpus, None)
    queue_runs(q.engine, "s", [spec(1), spec(2)])
    claim, why = q.claim("w#1", "0")
    assert claim is not None and why == "an idle GPU" and gpus.calls == 0
    claim2, why2 = q.claim("w#2", "0")
    assert claim2 is None and "GiB free" in why2 and gpus.calls == 1


def test_a_second_run_is_admitted_by_its_measured_peak_and_the_free_memory(db):
    gpus = FakeGpus(**{"0": 80})
    q = Queue(db, gpus, None)
    queue_runs(q.engine, "s", [spec(s) for s in range(6)])
    first, _ = q.claim("w#1", "0")
    finish_measured(q.engine, first, "w#1", peak_gb=10)  # the shape's peak is now measured: 10 GB
    q.gate.done("w#1", "0")
    a, _ = q.claim("w#1", "0")  # the GPU is idle again
    q.gate.started("w#1", "0", pid=101)
    gpus.free["0"] = 78 * GB  # NVML sees the new run's context, not yet its 10 GB
    b, why = q.claim("w#2", "0")
    assert b is not None and "expects 10.0 GiB, measured (1 run)" in why
    q.gate.started("w#2", "0", pid=102)
    # 78 GB free, less what both runs will still allocate (20 GB): 58 GB, room for more
    assert q.gate.states()[0].free_bytes == 58 * GB
    gpus.used["0"] = {101: 10 * GB, 102: 4 * GB}  # the first run reached its peak, the second is on its way
    gpus.free["0"] = 64 * GB
    assert q.gate.states()[0].free_bytes == 58 * GB  # 64 - (0 + 6) still to come
    gpus.free["0"] = 15 * GB  # someone else's job took most of the GPU meanwhile
    c, why = q.claim("w#3", "0")
    assert c is None and "needs 10.0 GiB" in why and f"{DEFAULT_MARGIN_BYTES / GB:.1f} GiB margin" in why
    gpus.free["0"] = 18 * GB  # 18 - 6 to come = 12 = 10 + the 2 GB margin: fits exactly
    c, _ = q.claim("w#3", "0")
    assert c is not None and q.gate.runs_on("0") == 3


def test_a_fixed_limit_holds_even_with_memory_to_spare(db):
    q = Queue(db, FakeGpus(**{"0": 80}), 2)
    queue_runs(q.engine, "s", [spec(s) for s in range(4)])
    assert q.claim("w#1", "0")[0] is not None and q.claim("w#2", "0")[0] is not None
    claim, why = q.claim("w#3", "0")
    assert claim is None and "the most it takes" in why


def test_shapes_never_seen_are_estimated_or_wait_for_an_idle_gpu(db):
    q = Queue(db, FakeGpus(**{"0": 80}), None)
    queue_runs(q.engine, "s", [spec(1), spec(2), spec(3, model="my-lab/secret-encoder")])
    q.claim("w#1", "0")
    need, source = q.gate.need_of(spec(2).canonical_json())
    assert (need, source) == (estimate_peak(KNOWN_PARAMS[XLMR], shape_of(spec(2).canonical_json())),
                              "estimated from the parameter count")
    assert q.claim("w#2", "0")[0] is not None  # 80 GB holds the estimate
    claim, why = q.claim("w#3", "0")
    assert claim is None and "secret-encoder never ran here and its size is unknown" in why


def test_an_idle_gpu_takes_the_run_before_a_busy_one_packs_it(db):
    gpus = FakeGpus(**{"0": 80, "1": 80})
    q = Queue(db, gpus, None, gpu_ids=("0", "1"))
    queue_runs(q.engine, "s", [spec(s) for s in range(4)])
    assert q.claim("a#1", "0")[0] is not None
    claim, why = q.claim("a#2", "0")  # GPU 1 has nothing: it takes the next run, not GPU 0's second slot
    assert claim is None and why == "GPU 1 is idle: it takes the run first"
    assert q.claim("b#1", "1")[0] is not None
    gpus.free["1"] = 30 * GB
    claim, why = q.claim("b#2", "1")
    assert claim is None and why == "GPU 0 has more room for it"
    assert q.claim("a#2", "0")[0] is not None


def test_a_claim_that_does_not_fit_after_all_is_released_uncounted(db):
    """Another worker took the run the gate looked at; the one claimed instead is too big."""
    q = Queue(db, FakeGpus(**{"0": 24}), None)  # the first run's 12.5 GB estimate to come: 11.5 GB left
    big, small = spec(1, batch=128), spec(2)
    queue_runs(q.engine, "s", [big, spec(3)])
    assert q.claim("w#1", "0")[0].spec_json == big.canonical_json()
    queue_runs(q.engine, "t", [big.model_copy(update={"seed": 9})], priority=5)
    claim, why = q.claim("w#2", "0", peek_override=small.canonical_json())
    assert claim is None and "needs" in why
    (run_id, reason), = q.released
    assert reason.startswith("not admitted to GPU 0: needs")
    with Session(q.engine) as s:
        run = s.get(Run, run_id)
        assert run.status == RunStatus.QUEUED and run.attempts - run.retry_base == 0  # no attempt spent
        attempt = s.exec(select(Attempt).where(Attempt.run_id == run_id)).one()
        assert attempt.outcome == Outcome.REQUEUED and attempt.error == reason
    assert q.gate.runs_on("0") == 1


def test_a_wait_is_decided_once_per_gpu_until_a_run_starts_or_ends(db):
    now = [0.0]
    gpus = FakeGpus(**{"0": 1})
    gate = GpuGate(open_db(db), ["0"], None, probe=gpus, clock=lambda: now[0])
    queue_runs(gate.engine, "s", [spec(s) for s in range(3)])
    peeks = []

    def claim(slot):
        def peek():
            peeks.append(slot)
            return queue.next_spec(gate.engine)
        return gate.claim(slot, "0", peek, lambda: queue.claim_next(gate.engine, slot, "cuda:0"), lambda *_: None)[0]

    assert claim("a") is not None
    assert claim("b") is None and claim("c") is None and peeks == ["b"]  # c took b's answer
    now[0] = 3.0
    assert claim("c") is None and peeks == ["b", "c"]  # older than RECHECK_S: looked again
    gate.done("a", "0")
    assert claim("b") is not None  # the GPU went idle: at once
    assert gate.first_time("0", "needs 1.0 GiB; 0.5 GiB free") and not gate.first_time("0", "needs 1.0 GiB; 0.4 GiB free")
    assert gate.first_time("0", "GPU 1 is idle") and gate.first_time("1", "GPU 1 is idle")


def test_the_runs_sharing_a_gpu_are_averaged_over_each_run(db):
    now = [0.0]
    gate = GpuGate(open_db(db), ["0"], 4, probe=FakeGpus(**{"0": 80}), clock=lambda: now[0])
    queue_runs(gate.engine, "s", [spec(s) for s in range(3)])

    def claim(slot):
        c, _ = gate.claim(slot, "0", lambda: queue.next_spec(gate.engine),
                          lambda: queue.claim_next(gate.engine, slot, "cuda:0"), lambda *_: None)
        assert c is not None

    claim("a")  # t=0: alone
    now[0] = 10.0
    claim("b")  # t=10: two runs
    now[0] = 20.0
    claim("c")  # t=20: three runs
    now[0] = 30.0
    assert gate.done("b", "0") == pytest.approx((10 * 2 + 10 * 3) / 20)
    now[0] = 40.0
    assert gate.done("a", "0") == pytest.approx((10 * 1 + 10 * 2 + 10 * 3 + 10 * 2) / 40)
    assert gate.done("c", "0") == pytest.approx((10 * 3 + 10 * 2) / 20)
    assert gate.done("c", "0") is None


def measured(level: float, tokens: float, shape: Shape | None = None) -> Measured:
    return Measured(shape or Shape(XLMR, "full", 32, 128, "auto"), 10 * GB, tokens, level, 278_000_000)


def test_packing_levels_and_when_they_stop_helping():
    shape = Shape(XLMR, "full", 32, 128, "auto")
    other = Shape(XLMR, "full", 16, 128, "auto")
    history = [measured(1.0, 1000), measured(1.2, 1100), measured(1.0, 900), measured(2.1, 800),
               measured(1.9, 700), measured(3.0, 500), measured(1.0, 9999, other)]
    levels = level_throughput(history, shape)
    assert levels == {1: 1000.0, 2: 2 * 750.0, 3: 1500.0}  # the median run of each level, times the level
    assert packing_helps(levels, 0)[0] and packing_helps(levels, 1) == (
        True, "2 runs per GPU measured at 1.50x one run's tokens/s")
    helps, why = packing_helps(levels, 2)  # 3 runs give no more than 2: stop at 2
    assert not helps and why == "packing stops helping at 3 runs per GPU: measured 1500 tokens/s vs 1500 with 2"
    assert not packing_helps(levels, 3)[0]
    assert packing_helps({1: 1000.0}, 1) == (True, "2 runs per GPU not measured yet for this shape: trying it")
    assert packing_helps({1: 1000.0, 2: 2100.0}, 2)[0]  # 3 not measured, every measured step helped: try it


def test_auto_stops_packing_where_the_measured_throughput_stops_rising(db):
    q = Queue(db, FakeGpus(**{"0": 80}), None)
    queue_runs(q.engine, "s", [spec(s) for s in range(8)])
    for level, tokens in ((1.0, 1000.0), (2.0, 550.0), (3.0, 370.0)):  # 1000, 1100, 1110 tokens/s summed
        c, _ = q.claim("m", "0")
        finish_measured(q.engine, c, "m", peak_gb=5, tokens=tokens, gpu_runs=level)
        q.gate.done("m", "0")
    assert q.claim("w#1", "0")[0] is not None
    claim, why = q.claim("w#2", "0")  # 2 runs gave 1.10x: just enough
    assert claim is not None and "2 runs per GPU measured at 1.10x" in why
    claim, why = q.claim("w#3", "0")
    assert claim is None and why.startswith("packing stops helping at 3 runs per GPU")
    fixed = GpuGate(q.engine, ["0"], 3, probe=FakeGpus(**{"0": 80}))  # a number is the user's call: no throughput rule
    fixed._on["0"] = dict(q.gate._on["0"])
    assert fixed.decide("0", spec(7).canonical_json()).admit


# -- real workers and run processes on fake GPUs ----------------------------------------------------


def worker_attempts(db: str) -> list[Attempt]:
    with Session(open_db(db, create=False)) as s:
        return list(s.exec(select(Attempt).order_by(Attempt.id)))


@pytest.mark.slow
@pytest.mark.parametrize("gpus, per_gpu, most", [("80", "2", 2), ("1", "auto", 1)])
def test_a_worker_packs_runs_on_a_gpu_by_the_flag_and_its_memory(tmp_path: Path, tiny_grid, gpus, per_gpu, most):
    """Four tiny runs on one fake GPU: two at a time with --runs-per-gpu 2; with auto on a 1 GiB GPU,
    whose memory holds no second run (its estimate plus the margin), one at a time."""
    db = str(tmp_path / "experiments.db")
    ids = enqueue_grid(db, tiny_grid(seeds="[1, 2, 3, 4]", train=80, eval=20))
    out = xltui("worker", "--db", db, "--gpus", "0", "--runs-per-gpu", per_gpu, "--exit-when-idle", "--poll", "0.1",
                env={TEST_GPUS_ENV: gpus})
    assert out.returncode == 0, out.stdout + out.stderr
    rows = worker_attempts(db)
    assert [a.outcome for a in rows] == [Outcome.SUCCEEDED] * 4 and sorted(a.run_id for a in rows) == ids
    assert {a.device for a in rows} == {"cuda:0"}
    assert overlap(rows) == most
    with Session(open_db(db, create=False)) as s:
        shared = {r.run_id: r.value for r in s.exec(select(Result).where(Result.metric == "gpu_runs"))}
    assert sorted(shared) == ids
    if most == 1:
        assert set(shared.values()) == {1.0}
        said = " ".join(out.stdout.split())
        assert "cuda:0: the next run waits: needs" in said and "GiB margin" in said
        assert said.count("the next run waits: needs") == 1  # once for the GPU, not once per poll
    else:
        assert max(shared.values()) > 1.2 and {a.worker_id.rsplit("#", 1)[1] for a in rows} == {"1", "2"}
        assert "2 runs on the GPU; expects" in " ".join(out.stdout.split())
    for run_id in ids:
        assert len(attempts(db, run_id)) == 1


def test_runs_per_gpu_refuses_a_cpu_worker_and_a_bad_value(tmp_path: Path):
    db = str(tmp_path / "experiments.db")
    out = xltui("worker", "--db", db, "--cpu", "--runs-per-gpu", "2")
    assert out.returncode != 0 and "--runs-per-gpu 2: this worker runs on the CPU" in out.stderr
    out = xltui("worker", "--db", db, "--gpus", "0", "--runs-per-gpu", "many", env={TEST_GPUS_ENV: "80"})
    assert out.returncode != 0 and "--runs-per-gpu: expected a whole number" in out.stderr
    out = xltui("slurm", "submit", "--db", db, "-n", "1", "--gpus-per-worker", "0", "--runs-per-gpu", "auto",
                "--cluster", "local")
    assert out.returncode != 0 and "the workers get no GPU" in out.stderr
    assert not Path(db).exists() or not worker_attempts(db)
