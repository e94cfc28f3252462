"""The SQLModel tables: the database is the only channel between CLI, TUI and workers.

Times are POSIX seconds (floats) so lease and ETA arithmetic is the same on every
backend. Everything a run produces (metrics, samples, results, artifacts) hangs off
the attempt that produced it, so a retried run never loses an earlier attempt.
"""

from __future__ import annotations

from typing import Optional

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from engine.spec import RunStatus, WorkerState


class Meta(SQLModel, table=True):
    key: str = Field(primary_key=True)
    value: str


class Study(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    grid_path: Optional[str] = None
    grid_text: Optional[str] = None
    external: bool = False
    created_at: float


class Run(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("study_id", "spec_hash"),
        # the claim's order (priority DESC, id) read straight off the index: no sort of every queued run
        Index("ix_run_claim_order", "status", text("priority DESC"), "id"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    spec_hash: str = Field(index=True)
    spec_json: str
    # denormalised from the spec for listing and filtering without JSON parsing
    model_name: str
    method: str
    task: str
    setting: str
    seed: int
    source: str
    targets: str
    status: str = RunStatus.QUEUED  # a RunStatus, stored as its word
    priority: int = 0
    attempts: int = 0  # claims so far, never reset (numbers each Attempt)
    retry_base: int = 0  # attempts at the last user retry; max_attempts counts from here
    max_attempts: int = 3
    worker_id: Optional[str] = None
    device: Optional[str] = None
    attempt_id: Optional[int] = None  # the latest attempt
    lease_expires_at: Optional[float] = None
    created_at: float
    started_at: Optional[float] = None
    finished_at: Optional[float] = None
    error: Optional[str] = None
    # set after a CUDA out-of-memory: each step's batch is split into this many micro-batches whose
    # gradients are accumulated, so the effective batch (the spec's) and the results' meaning stay
    grad_accumulation: Optional[int] = None


class RunDependency(SQLModel, table=True):
    """``run_id`` may start only when ``needs_run_id`` has succeeded (e.g. its language adapters)."""

    run_id: int = Field(foreign_key="run.id", primary_key=True)
    needs_run_id: int = Field(foreign_key="run.id", primary_key=True, index=True)


class Attempt(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    number: int
    worker_id: str
    device: str
    started_at: float
    finished_at: Optional[float] = None
    outcome: Optional[str] = None  # an Outcome (succeeded | failed | requeued | lost | cancelled)
    error: Optional[str] = None
    log_path: Optional[str] = None
    # set by a run process once its loop starts (engine.training.saving): the optimizer step it resumed
    # at (0: a fresh start; None: it never got that far), and how many steps earlier attempts had done past it
    resumed_step: Optional[int] = None
    redone_steps: Optional[int] = None
    saved_step: Optional[int] = None  # the step of the newest training state it saved (engine.training.resume)


class MetricPoint(SQLModel, table=True):
    __table_args__ = (Index("ix_metric_attempt_name_step", "attempt_id", "name", "step"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id")
    attempt_id: int = Field(foreign_key="attempt.id")
    step: int
    name: str  # train_loss | lr | dev_f1 | examples_per_s | epoch | total_steps
    value: float
    t: float


class SystemSample(SQLModel, table=True):
    __table_args__ = (Index("ix_sample_attempt_t", "attempt_id", "t"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id")
    attempt_id: int = Field(foreign_key="attempt.id")
    t: float
    device: str
    rss_bytes: Optional[int] = None
    gpu_allocated_bytes: Optional[int] = None
    gpu_reserved_bytes: Optional[int] = None
    gpu_peak_bytes: Optional[int] = None
    gpu_util_percent: Optional[float] = None


class Result(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("attempt_id", "language", "split", "metric"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    attempt_id: int = Field(foreign_key="attempt.id")
    language: str
    split: str
    metric: str  # f1 | precision | recall | f1:PER | ... | n_sentences
    value: float


class Artifact(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    attempt_id: int = Field(foreign_key="attempt.id")
    kind: str  # checkpoint | predictions | tokenizer | log
    path: str
    sha256: Optional[str] = None
    language: Optional[str] = None
    created_at: float


class Worker(SQLModel, table=True):
    id: str = Field(primary_key=True)  # host:pid:device
    host: str
    pid: int
    device: str
    started_at: float
    heartbeat_at: float
    current_run_id: Optional[int] = None
    state: str = WorkerState.IDLE  # a WorkerState: idle | busy | stopping | stopped
    job_id: Optional[str] = None  # the cluster job that started this worker: Slurm "1234_0" (array 1234, task 0)
    job_index: Optional[int] = None  # its index in the array of workers submitted together


class ClusterJob(SQLModel, table=True):
    """One worker job xltui submitted to a cluster (a task of a Slurm job array, or a job of
    submitit's local executor); its workers carry the same ``job_id``."""

    id: Optional[int] = Field(default=None, primary_key=True)
    job_id: str = Field(index=True, unique=True)  # Slurm "1234_0": array 1234, task 0 (local executor: a pid)
    array_id: str  # the jobs submitted together share it ("1234")
    job_index: int
    cluster: str  # slurm | local
    folder: str  # submitit's folder: the job's script, pickles and logs
    partition: Optional[str] = None
    options: str = "{}"  # the submitted parameters, as JSON
    submitted_at: float
    cancelled_at: Optional[float] = None
