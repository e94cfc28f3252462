"""The grid file a researcher writes, validated as a whole.

A grid is the study design: tasks x models x settings x seeds, all trained on the
same source languages and evaluated on the same targets. Loading reports every
problem of the file at once (``file:line: field: message``) so a grid is fixed in
one pass, and checks that the data exist before anything is queued: a run that
would die after an hour of queueing on a missing ``dev.txt`` is a bad trade. How
model and data references resolve is engine.grid.references.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictInt,
    StrictStr,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from engine.data import released
from engine.data.refs import DataError, is_hf_ref
from engine.grid import methods
from engine.grid.data_checks import ALL_LANGUAGES, DATA_RESOLVERS, check_data, targets_with_text
from engine.grid.options import AlignmentAxis, grid_dir, text_file
from engine.grid.references import check_lang, hf_text_ref, resolve_data_ref, resolve_model
from engine.grid.yamlfile import GridError, Loc, YamlDoc, error_message, load_yaml
from engine.spec import (
    AdapterParams,
    LabelOptions,
    LangAdapterParams,
    MadxParams,
    Method,
    PretrainedAdapter,
    Task,
    TrainParams,
)
from engine.tasks import TASKS

_NAME = re.compile(r"[A-Za-z0-9._-]+")


def _annotated(tp: Any, metadata: list[Any]) -> Any:
    """``Annotated[tp, *metadata]``, which Python refuses for empty metadata."""
    return Annotated[tp, *metadata] if metadata else tp


def _as_list(value: Any) -> Any:
    """Axes may be written as a scalar (``task: ner``) or a list (``task: [ner]``)."""
    return [value] if isinstance(value, str) else value


def _check_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise PydanticCustomError("name", "use only letters, digits, '.', '_' and '-'")
    return value


def _one_ref_for_all(value: Any) -> Any:
    return {ALL_LANGUAGES: value} if isinstance(value, str) else value


Name = Annotated[StrictStr, AfterValidator(_check_name)]
Lang = Annotated[StrictStr, AfterValidator(check_lang)]
DataRef = Annotated[StrictStr, AfterValidator(resolve_data_ref)]
DataSpec = Annotated[dict[StrictStr, DataRef], BeforeValidator(_one_ref_for_all)]
Seed = Annotated[StrictInt, Field(ge=0, lt=2**32)]


def _pretrained(text: Any, info: ValidationInfo) -> PretrainedAdapter:
    """A released language adapter: a checked local directory (hashed) or a hub id (engine.data.released)."""
    if isinstance(text, PretrainedAdapter):
        return text
    if not isinstance(text, str):
        raise PydanticCustomError("pretrained", f"expected a hub id or a directory, got {text!r}")
    try:
        adapter, _note = released.resolve(text, grid_dir(info), None)
    except DataError as exc:
        raise PydanticCustomError("pretrained", str(exc)) from None
    return adapter


class GridLangAdapter(LangAdapterParams):
    """``lang_adapter`` as a grid writes it: ``pretrained`` values are hub ids or directories."""

    pretrained: dict[Lang, Annotated[PretrainedAdapter, BeforeValidator(_pretrained)]] = Field(
        default_factory=dict, description="language -> released adapter (hub id[@revision] or directory), "
        "loaded instead of trained")


ADAPTER_OPTIONS = ("task_adapter", "leave_out")  # methods madx and adapter
MADX_LR = 1e-4  # adapters train at 1e-4 (MAD-X's task adapters; full fine-tuning: 2e-5)


class _ModelEntryBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name = Field(description="alias used in run names, tables and exclude entries")
    model: Annotated[StrictStr, AfterValidator(resolve_model)]
    method: Method
    lang_adapter: GridLangAdapter | None = None
    task_adapter: dict[StrictStr, Any] | None = Field(None, description="config: a method of the adapters "
                                                      "library (default seq_bn), and that method's options")
    leave_out: tuple[Annotated[StrictInt, Field(ge=0)], ...] | None = None

    @field_validator("lang_adapter")
    @classmethod
    def _text_files(cls, value: GridLangAdapter | None, info: ValidationInfo) -> GridLangAdapter | None:
        """Text files are relative to the grid file and must exist; '<task>:<data>' names task data;
        a released adapter must fit the base model."""
        if value is None:
            return None
        resolved = {}
        for lang, ref in value.text.items():
            task, _, rest = ref.partition(":")
            if task in DATA_RESOLVERS and rest:
                resolved[lang] = ref
                continue
            if is_hf_ref(ref):  # a text dataset (Wikipedia, CC-100); a local copy becomes absolute
                resolved[lang] = hf_text_ref(ref, lang, info)
                continue
            resolved[lang] = text_file(ref, info, f"lang_adapter.text.{lang}")
        model = info.data.get("model")
        if value.pretrained and model:
            base = released.base_shape(model)
            for lang, adapter in value.pretrained.items():
                folder = Path(adapter.source) if adapter.is_local else released.cached_snapshot(
                    adapter.source, adapter.revision)
                problems = released.adapter_problems(folder, base) if folder is not None else []
                if problems:
                    raise PydanticCustomError("pretrained", f"pretrained.{lang}: " + "; ".join(problems))
        return value.model_copy(update={"text": resolved})

    @model_validator(mode="after")
    def _method_options(self) -> _ModelEntryBase:
        if self.method == "full":
            given = [k for k in ("lang_adapter", *ADAPTER_OPTIONS) if getattr(self, k) is not None]
            if given:
                raise PydanticCustomError("madx_only", f"{', '.join(given)} only apply to methods madx and adapter")
        elif self.model == "tiny":
            raise PydanticCustomError("madx_tiny", f"method {self.method} needs a pretrained encoder (a local "
                        "directory, a hub id or 'minilm'); 'tiny' is random-init, so its adapters would mean nothing")
        if self.method == "adapter":
            if self.lang_adapter is not None:
                raise PydanticCustomError("madx_only", "lang_adapter only applies to method madx (method adapter "
                                          "trains a task adapter alone)")
            if not (self.task_adapter or {}).get("config"):
                raise PydanticCustomError("adapter_config", "method adapter needs task_adapter: {config: NAME, ...} "
                                          "with a method of the adapters library, e.g. {config: lora, r: 8}")
        if self.method != "full":
            self._task_setup()  # the library's own config class checks the method and its options
        return self

    def _task_setup(self) -> tuple[float, Any]:
        return methods.task_adapter(self.task_adapter, tuple(self.leave_out or ()), madx=self.method == "madx")

    def overrides(self) -> dict[str, Any]:
        """The TrainParams this entry sets explicitly (they beat the grid's ``train``)."""
        return {k: getattr(self, k) for k in self.model_fields_set if k in TrainParams.model_fields}

    def madx(self) -> MadxParams | None:
        if self.method != "madx":
            return None
        factor, task = self._task_setup()
        lang = LangAdapterParams.model_validate((self.lang_adapter or GridLangAdapter()).model_dump())
        return MadxParams(lang_adapter=lang, task_reduction_factor=factor, task_adapter=task,
                          leave_out=tuple(self.leave_out or ()))

    def adapter(self) -> AdapterParams | None:
        if self.method != "adapter":
            return None
        _factor, task = self._task_setup()
        assert task is not None  # method adapter names its config (checked above)
        return AdapterParams(task_adapter=task, leave_out=tuple(self.leave_out or ()))


# One model entry: name/model/method plus every TrainParams field as an optional override,
# with the same constraints, so `lr: -1` on a model fails exactly like it does under train:.
ModelEntry = create_model(  # type: ignore[call-overload]
    "ModelEntry",
    __base__=_ModelEntryBase,
    **{n: (_annotated(f.annotation, f.metadata), Field(None, description=f.description))
       for n, f in TrainParams.model_fields.items()},
)


class Exclude(BaseModel):
    """A partial match on one run's axes; a run matching every given key is dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: StrictStr | None = None
    task: StrictStr | None = None
    source: StrictStr | None = None
    target: StrictStr | None = None
    setting: StrictStr | None = None
    seed: StrictInt | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Exclude:
        if not self.model_fields_set:
            raise PydanticCustomError("exclude_empty", "empty exclude entry; give at least one of "
                        + ", ".join(Exclude.model_fields))
        return self

    def matches(self, *, model: str, task: str, source: tuple[str, ...], setting: str, seed: int) -> bool:
        """Whether the run matches every given key except ``target`` (handled per target)."""
        return ((self.model is None or self.model == model) and (self.task is None or self.task == task)
                and (self.source is None or self.source in source)
                and (self.setting is None or self.setting == setting) and (self.seed is None or self.seed == seed))


class FewShot(BaseModel):
    """``{few-shot: [10, 100]}``: K target sentences (sentence-classification tasks: K texts per class) per run,
    one run per K and target. ``pool: {orm: dev}`` draws a language's K from another split than train
    (AfriSenti's Oromo and Tigrinya have no training tweets); that split is then never scored."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    k: Annotated[tuple[Annotated[StrictInt, Field(ge=1)], ...], Field(alias="few-shot", min_length=1)]
    pool: dict[Lang, Literal["train", "dev", "test"]] = Field(
        default_factory=dict, description="language -> the split its few-shot K are drawn from")


def _setting(value: Any) -> Any:
    """One clear message per bad setting instead of one per union member."""
    if value == "few-shot":
        raise PydanticCustomError("setting", "few-shot needs its K values: write {few-shot: [10, 100]}")
    if isinstance(value, str) and value != "zero-shot":
        raise PydanticCustomError("setting", f"unsupported setting '{value}'; use zero-shot or {{few-shot: [K, ...]}}")
    return value


SettingItem = Annotated[
    Annotated[Annotated[Literal["zero-shot"], BeforeValidator(_setting)], Tag("<zero>")] | Annotated[FewShot, Tag("<few>")],
    Discriminator(lambda v: "<zero>" if isinstance(v, str) else "<few>"),  # tags in <> are no YAML keys
]


class Grid(BaseModel):
    """A validated grid file; scalars written for axes are normalised to tuples."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    study: Name
    task: Annotated[tuple[Task, ...], BeforeValidator(_as_list), Field(min_length=1)]
    source: Annotated[tuple[Lang, ...], BeforeValidator(_as_list), Field(min_length=1)]
    targets: Annotated[tuple[Lang, ...], BeforeValidator(_as_list), Field(min_length=1)]
    data: dict[Task, DataSpec]
    models: Annotated[tuple[ModelEntry, ...], Field(min_length=1)]  # type: ignore[valid-type]
    settings: Annotated[tuple[SettingItem, ...], BeforeValidator(_as_list), Field(min_length=1)]
    seeds: Annotated[tuple[Seed, ...], Field(min_length=1)]
    train: TrainParams = TrainParams()
    exclude: tuple[Exclude, ...] = ()
    labels: LabelOptions = LabelOptions()
    alignment: AlignmentAxis | None = None

    def setting_axis(self) -> list[tuple[str, int | None]]:
        """(setting, K) pairs: zero-shot first, then few-shot by K, duplicates dropped."""
        pairs = [("zero-shot", None) if s == "zero-shot" else ("few-shot", k) for s in self.settings
                 for k in ((None,) if s == "zero-shot" else s.k)]
        return list(dict.fromkeys(pairs))

    def fewshot_pool(self, lang: str) -> str | None:
        """The split a few-shot run on ``lang`` draws from, where the grid names one."""
        return next((s.pool[lang] for s in self.settings if not isinstance(s, str) and lang in s.pool), None)

    def data_ref(self, task: str, lang: str) -> str:
        refs = self.data[task]
        return refs.get(lang) or refs[ALL_LANGUAGES]


# sections whose unknown keys get a "did you mean" hint from their own field names
_SECTIONS: dict[str, type[BaseModel]] = {"models": ModelEntry, "train": TrainParams, "exclude": Exclude,
                                         "labels": LabelOptions, "alignment": AlignmentAxis}
_INT_LIST_ERRORS = {"list_type", "tuple_type", "int_type", "int_parsing", "int_from_float"}


@cache
def _field_adapter(name: str) -> TypeAdapter[Any]:
    field = Grid.model_fields[name]
    return TypeAdapter(_annotated(field.annotation, field.metadata))


def _message(loc: Loc, err: Any) -> str:
    """Field-specific wording first, then the generic rewrite of pydantic's message."""
    if loc[0] == "seeds" and err["type"] in _INT_LIST_ERRORS:
        return "expected a list of integers"
    if loc[0] == "models" and loc[-1] == "method" and err["type"] == "literal_error" \
            and isinstance(err.get("input"), str) and err["input"] in methods.method_names():
        name = err["input"]
        return (f"{name!r} is a method of the adapters library, not of the grid: write method: adapter (alone) "
                f"or method: madx (on language adapters) with task_adapter: {{config: {name}}}")
    section = _SECTIONS.get(str(loc[0]), Grid) if len(loc) > 1 else Grid
    return error_message(loc, err, section.model_fields)


def _duplicates(items: tuple[Any, ...]) -> list[tuple[int, int]]:
    """(index, index of first occurrence) of every repeated item."""
    first: dict[Any, int] = {}
    return [(i, first[x]) for i, x in enumerate(items) if first.setdefault(x, i) != i]


def _cross_checks(v: dict[str, Any]) -> list[tuple[Loc, str]]:
    """Checks spanning several fields; each runs when the fields it needs are valid."""
    out: list[tuple[Loc, str]] = []
    for field in ("source", "targets", "seeds"):
        out += [((field, i), f"duplicate {v[field][i]!r} (already {field}[{j}])")
                for i, j in _duplicates(v.get(field, ()))]
    names = tuple(m.name for m in v.get("models", ()))
    out += [(("models", i, "name"), f"duplicate model name '{names[i]}' (already models[{j}])")
            for i, j in _duplicates(names)]
    if "source" in v and "targets" in v:
        out += [(("targets", i), f"'{t}' is also a source language; targets must be unseen in training")
                for i, t in enumerate(v["targets"]) if t in v["source"]]
        out += [(("settings", i, "pool", lang), f"'{lang}' is no target language of this grid "
                 f"({', '.join(v['targets'])}), so this pool would never be used")
                for i, s in enumerate(v.get("settings", ())) if not isinstance(s, str)
                for lang in s.pool if lang not in v["targets"]]
        languages = set(v["source"]) | set(v["targets"])
        out += [(("models", i, "lang_adapter", "pretrained", lang), f"'{lang}' is no source or target language "
                 f"of this grid ({', '.join(v['source'] + v['targets'])}), so this adapter would never be loaded")
                for i, m in enumerate(v.get("models", ())) if m.lang_adapter is not None
                for lang in m.lang_adapter.pretrained if lang not in languages]
    if "task" in v and v.get("labels") is not None and v["labels"].model_fields_set:
        if all(TASKS[t].fixed_labels for t in v["task"]):
            out.append((("labels",), f"labels.map and labels.unknown relabel tagging data; {', '.join(v['task'])} "
                        f"has a fixed label set ({', '.join(TASKS[v['task'][0]].labels or ())})"))
    if all(k in v for k in ("task", "source", "targets", "data")):
        out += check_data(v)
        if v.get("alignment") is not None:
            out += v["alignment"].check(v["targets"], targets_with_text(v))
    axes = {"model": names if "models" in v else None, "task": v.get("task"), "source": v.get("source"),
            "target": v.get("targets"), "seed": v.get("seeds"),
            "setting": tuple("zero-shot" if s == "zero-shot" else "few-shot" for s in v["settings"])
            if "settings" in v else None}
    for i, entry in enumerate(v.get("exclude", ())):
        for key in (k for k in Exclude.model_fields if k in entry.model_fields_set):
            value, allowed = getattr(entry, key), axes[key]
            if allowed is not None and value not in allowed:
                shown = ", ".join(map(str, dict.fromkeys(allowed)))
                out.append((("exclude", i, key), f"{value!r} matches no {key} of this grid ({shown}), "
                            "so this exclude would do nothing"))
    return out


def validate_grid(doc: YamlDoc) -> Grid:
    """Validate parsed grid data field by field, so one bad field hides no other error."""
    context = {"base_dir": doc.path.parent}
    issues = [doc.issue((key,), _message((key,), {"type": "extra_forbidden"}))
              for key in doc.data if key not in Grid.model_fields]
    values: dict[str, Any] = {}
    for name, field in Grid.model_fields.items():
        if name not in doc.data:
            if field.is_required():
                issues.append(doc.issue((name,), "required key is missing"))
            continue
        try:
            values[name] = _field_adapter(name).validate_python(doc.data[name], context=context)
        except ValidationError as exc:
            for e in exc.errors():
                if e["type"] == "too_short" and e["input"]:
                    continue  # emptied only by bad items, which are reported themselves
                loc = (name, *(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("<"))))
                issues.append(doc.issue(loc, _message(loc, e)))
    issues += [doc.issue(loc, msg) for loc, msg in _cross_checks(values)]
    if issues:
        raise GridError(sorted(issues, key=lambda i: i.line or 0))
    return Grid.model_validate(doc.data, context=context)


def load_grid(path: str | Path) -> Grid:
    """Read, validate and data-check a grid file; raises GridError listing every problem."""
    return validate_grid(load_yaml(path))
