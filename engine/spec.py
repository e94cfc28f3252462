"""What a run is, and the words every stage shares.

A RunSpec is what the engine stores and what a run subprocess executes. Every
default is written into it, so a stored run says exactly what ran even after the
grid defaults change; its hash is the run's identity for de-duplication.

The shared vocabulary lives here too, defined once: the tasks and their main
metric, the model presets, a run's states and an attempt's outcomes (string
enums, so they are stored as the plain words they always were), a worker's
states, what a stop signal asks, and the name of the study that holds shared language-adapter runs.
Imports nothing from the engine.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from engine.states import MAIN_METRIC, Outcome, RunStatus, StopAction, WorkerState  # noqa: F401 (the shared vocabulary, re-exported)
from engine.tasks import TASK_NAMES

SPEC_VERSION = 1

Task = Literal[TASK_NAMES]  # type: ignore[valid-type]  # the task table's names (engine.tasks)
Method = Literal["full", "madx", "adapter"]  # adapter: a task adapter of any library method, alone
Setting = Literal["zero-shot", "few-shot"]
Precision = Literal["auto", "bf16", "fp16", "fp32"]

TASKS: tuple[str, ...] = TASK_NAMES
MODEL_PRESETS = ("tiny", "minilm")  # engine.training.modelzoo builds them; the grid accepts them as models
ADAPTER_STUDY = "_lang-adapters"  # the internal study holding language-adapter runs shared across studies


class TrainParams(BaseModel):
    """Optimisation hyperparameters; defaults follow the XLM-R / MAD-X literature."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lr: float = Field(2e-5, gt=0, description="peak learning rate (AdamW)")
    batch_size: int = Field(32, ge=1)
    max_length: int = Field(128, ge=8, le=4096, description="subword tokens per sentence")
    epochs: int = Field(10, ge=1)
    patience: int = Field(3, ge=1, description="epochs without source-dev improvement before stopping")
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    max_train_sentences: int | None = Field(None, ge=1, description="use only the first N source training sentences "
                                            "(sentence tasks: N texts spread evenly over the file)")
    max_eval_sentences: int | None = Field(None, ge=1, description="evaluate on the first N sentences (sentence "
                                           "tasks: N texts spread evenly over the file; smoke runs only)")
    precision: Precision = "auto"
    group_by_length: bool = Field(True, description="batches of similar length, padded to their longest "
                                  "sentence (False: random batches, still padded per batch)")


class Hashed(BaseModel):
    """A frozen spec whose canonical JSON is its identity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def spec_hash(self) -> str:
        """Stable identity: the same resolved spec always hashes the same."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]


def _unset(value: Any) -> bool:
    return value is None or value == {}


def added_later(default: Any = None, description: str | None = None) -> Any:
    """A field added after the first stored specs: left out of the canonical JSON while unset, so
    every spec written before it (and every grid that does not use it) keeps its hash."""
    if isinstance(default, dict):
        return Field(default_factory=dict, exclude_if=_unset, description=description)
    return Field(default, exclude_if=_unset, description=description)


class PretrainedAdapter(BaseModel):
    """A released language adapter, loaded instead of trained: what was loaded, so a changed adapter is a
    different run. ``source`` is a hub id or an absolute directory; ``revision`` the hub commit (the one
    the local cache holds, or the revision asked for when it is fetched at run time) or, for a directory,
    ``sha256:`` of its files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    revision: str | None = None

    @property
    def is_local(self) -> bool:
        return self.source.startswith("/")

    def __str__(self) -> str:
        return f"{self.source}@{self.revision}" if self.revision else self.source


class LangAdapterParams(BaseModel):
    """A MAD-X language adapter: invertible bottleneck adapter trained by MLM (Pfeiffer et al. 2020),
    or for the languages in ``pretrained`` a released one (e.g. AdapterHub's), loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reduction_factor: float = Field(2, gt=0)
    mlm_steps: int = Field(20_000, ge=1)
    lr: float = Field(1e-4, gt=0)
    batch_size: int = Field(32, ge=1)
    max_length: int = Field(128, ge=8)
    text: dict[str, str] = Field(default_factory=dict, description="language -> unlabelled text file "
                                 "(one sentence per line) or a Hugging Face text dataset ('hf:...', e.g. "
                                 "Wikipedia); default: the language's own task data")
    pretrained: dict[str, PretrainedAdapter] = added_later({}, "language -> released adapter, loaded not trained")

    def trained_params(self) -> LangAdapterParams:
        """What a language-adapter run trains with: per-language choices dropped, so one adapter run serves
        every study that needs the same adapter."""
        return self.model_copy(update={"text": {}, "pretrained": {}})


class TaskAdapter(BaseModel):
    """A task adapter of any method the ``adapters`` library names (``seq_bn``, ``lora``, ``prefix_tuning``,
    ...: its ADAPTER_CONFIG_MAP) with options for that method's config class (engine.grid.methods checks
    them against the class before anything is queued)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config: str = "seq_bn"
    options: dict[str, JsonValue] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        """'seq_bn', 'lora r=8 alpha=16': how tables name the method."""
        return " ".join([self.config, *(f"{k}={v}" for k, v in sorted(self.options.items()))])


DEFAULT_TASK_ADAPTER = "seq_bn"


class MadxParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lang_adapter: LangAdapterParams = LangAdapterParams()
    task_reduction_factor: float = Field(16, gt=0)
    leave_out: tuple[int, ...] = Field((), description="layers without adapters, e.g. (11,) as in the paper")
    task_adapter: TaskAdapter | None = added_later(None, "a task adapter other than MAD-X's bottleneck "
                                                   "(seq_bn at task_reduction_factor)")

    def task_config(self) -> TaskAdapter:
        return self.task_adapter or TaskAdapter(options={"reduction_factor": self.task_reduction_factor})


class AdapterParams(BaseModel):
    """Method ``adapter``: one task adapter on the frozen base, no language adapters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_adapter: TaskAdapter
    leave_out: tuple[int, ...] = ()

    def task_config(self) -> TaskAdapter:
        return self.task_adapter


class LabelOptions(BaseModel):
    """How tags the source label set lacks are handled (e.g. MasakhaNER's DATE from an English source)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    map: dict[str, str] = Field(default_factory=dict, description="tag or entity type -> tag or entity type, "
                                "applied to source and target data, e.g. {DATE: O} or {MISC: O}")
    unknown: Literal["O", "error"] = Field("O", description="a target tag still outside the source label set "
                                           "becomes O (counted) or stops the run")


class AlignParams(BaseModel):
    """Cross-lingual alignment regulariser: loss = CE + weight * (1 - cos(h_src, h_tgt)), h the
    mean-pooled last hidden state; pairs from a parallel file, else batch centroids of target text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weight: float = Field(gt=0, description="lambda")
    parallel: dict[str, str] = Field(default_factory=dict, description="target -> 'file:<abs path>' of "
                                     "tab-separated source/target sentence pairs")
    text: dict[str, str] = Field(default_factory=dict, description="target -> 'file:<abs path>' of unlabelled "
                                 "text; default: the target's own train and dev sentences (never test)")
    batch_size: int = Field(16, ge=1, description="pairs or target sentences per step")


class LangAdapterSpec(Hashed):
    """Training of one language adapter: shared by every run and study that needs the same one."""

    spec_version: int = SPEC_VERSION
    kind: Literal["lang-adapter"] = "lang-adapter"
    model: str
    language: str
    text: str = Field(description="'file:<abs path>', '<task>:<data ref>' (that data's train and dev text) or "
                      "'hf:<dataset>' (its text column)")
    adapter: LangAdapterParams
    seed: int

    # the columns every queued run shows
    @property
    def model_name(self) -> str:
        return f"lang-adapter {self.language}"

    method: ClassVar[str] = "lang-adapter"
    trainer: ClassVar[str] = "lang-adapter"  # engine.training.trainers.TRAINERS key
    uses_adapters: ClassVar[bool] = True  # the ``adapters`` library (a warm launcher imports it when first needed)
    task: ClassVar[str] = "mlm"
    setting: ClassVar[str] = "-"
    k: ClassVar[None] = None
    targets: ClassVar[tuple[str, ...]] = ()

    @property
    def source(self) -> tuple[str, ...]:
        return (self.language,)


class RunSpec(Hashed):
    """One training run: a model, trained on source languages, evaluated on targets."""

    spec_version: int = SPEC_VERSION
    task: Task
    model_name: str = Field(description="the grid's alias for the model entry, e.g. 'xlmr'")
    model: str = Field(description="preset name, absolute local path, or hub id")
    method: Method
    source: tuple[str, ...]
    targets: tuple[str, ...]
    setting: Setting
    k: int | None = None
    seed: int
    data: dict[str, str] = Field(description="language -> dataset reference (catalog name or absolute dir)")
    train: TrainParams
    madx: MadxParams | None = None
    init_from: str | None = Field(None, description="few-shot: hash of the zero-shot run whose weights it continues")
    labels: LabelOptions = LabelOptions()
    align: AlignParams | None = None
    adapter: AdapterParams | None = added_later(None, "method adapter: its task adapter")
    fewshot_pool: Literal["train", "dev", "test"] | None = added_later(
        None, "few-shot: the split its K are drawn from, where the grid names one (else train; UD without train: test)")

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.source + self.targets))

    @property
    def trainer(self) -> str:
        """Which trainer runs it (engine.training.trainers.TRAINERS): a run that continues another is few-shot."""
        return "few-shot" if self.init_from is not None else "zero-shot"

    @property
    def uses_adapters(self) -> bool:
        """Whether it trains through the ``adapters`` library (every method but full fine-tuning)."""
        return self.method != "full"

    @property
    def task_adapter(self) -> TaskAdapter | None:
        """The task adapter that trains (None: full fine-tuning)."""
        setup = self.madx or self.adapter
        return setup.task_config() if setup is not None else None

    @property
    def leave_out(self) -> tuple[int, ...]:
        setup = self.madx or self.adapter
        return setup.leave_out if setup is not None else ()

    @property
    def method_label(self) -> str:
        """'full', 'madx' (its own task adapter), 'madx+lora r=8', 'lora r=8': a method as tables name it."""
        if self.method == "madx":
            return "madx" if self.madx is None or self.madx.task_adapter is None else f"madx+{self.madx.task_adapter.label}"
        task = self.task_adapter
        return task.label if task is not None else self.method


def parse_spec(spec_json: str) -> RunSpec | LangAdapterSpec:
    """The stored spec of any queued run."""
    if json.loads(spec_json).get("kind") == "lang-adapter":
        return LangAdapterSpec.model_validate_json(spec_json)
    return RunSpec.model_validate_json(spec_json)
