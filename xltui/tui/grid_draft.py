"""The composer's choices as a grid, and back: pure functions, no screen, no database.

The composer never builds a Grid object itself: it writes the YAML a researcher
would write (``draft_to_yaml``) and validates that text exactly as `xltui grid
validate` does, so every message and line number is the CLI's. Anything the
composer has no widget for (exclude, labels, a language adapter's mlm_steps, ...) is
kept as loaded and written back, so a saved grid loads back unchanged. A model entry's
task adapter (``task_adapter: {config: NAME, **options}``) and released language
adapters (``lang_adapter: {pretrained: {LANG: hub id or dir}}``) are edited through the
``with_*`` functions, which change those keys alone and return a new entry.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.spec import TASKS, TrainParams

# the hyperparameters with a field in the composer; the rest of `train:` is kept as loaded
TRAIN_FIELDS = ("lr", "batch_size", "max_length", "epochs", "patience", "max_train_sentences",
                "max_eval_sentences", "precision")
TRAIN_DEFAULTS: dict[str, Any] = {f: TrainParams.model_fields[f].default for f in TRAIN_FIELDS}
KNOWN_KEYS = ("study", "task", "source", "targets", "data", "models", "settings", "seeds", "train")
METHODS = ("full", "madx", "adapter")  # adapter: a task adapter alone; madx: on language adapters
# the adapters library's methods the composer offers in its list, by the library's own names (its
# ADAPTER_CONFIG_MAP; engine.grid.methods.method_names() lists them all but imports the library, and
# torch with it, so it never runs in the app: a name loaded from a file that is not here is offered too,
# and grid validation names a wrong one)
TASK_ADAPTERS = ("seq_bn", "double_seq_bn", "par_bn", "compacter", "compacter++", "prefix_tuning", "prompt_tuning",
                 "lora", "ia3", "vera", "dora", "loreft", "mam", "unipelt")
MADX_TASK_ADAPTER = "seq_bn"  # what a madx entry trains when its task_adapter names no config


@dataclass(frozen=True)
class ModelChoice:
    """A model entry offered in the composer, with its literature defaults."""

    name: str
    model: str
    method: str
    note: str
    extra: tuple[tuple[str, Any], ...] = ()

    def entry(self) -> dict[str, Any]:
        """A fresh entry: editing it (or its task_adapter mapping) never changes the catalogue."""
        return {"name": self.name, "model": self.model, "method": self.method, **copy.deepcopy(dict(self.extra))}


_LORA = {"config": "lora", "r": 8, "alpha": 16}
SWAHILI_ADAPTER = "AdapterHub/xlm-roberta-base-sw-wiki_pfeiffer"  # AdapterHub's MAD-X language adapter for XLM-R base

# presets of engine.training.modelzoo and the hub encoders of the MAD-X paper; adapter methods' lr (1e-4) and
# MAD-X adapter sizes (language: 2, task: 16) are the engine's defaults, so they need no keys here
MODEL_CHOICES = (
    ModelChoice("tiny", "tiny", "full", "random-init, for smoke runs", (("lr", 1.0e-3),)),
    ModelChoice("minilm", "minilm", "full", "pretrained MiniLM (English), offline"),
    ModelChoice("madx-minilm", "minilm", "madx", "MAD-X adapters on MiniLM, offline"),
    ModelChoice("xlmr", "xlm-roberta-base", "full", "XLM-R base, hub or cache"),
    ModelChoice("mbert", "bert-base-multilingual-cased", "full", "mBERT, hub or cache"),
    ModelChoice("madx-xlmr", "xlm-roberta-base", "madx", "MAD-X adapters on XLM-R base"),
    ModelChoice("lora-minilm", "minilm", "adapter", "a LoRA task adapter alone on MiniLM, offline",
                (("task_adapter", _LORA),)),
    ModelChoice("ia3-minilm", "minilm", "adapter", "an (IA)^3 task adapter alone on MiniLM, offline",
                (("task_adapter", {"config": "ia3"}),)),
    ModelChoice("madx-lora-minilm", "minilm", "madx", "MAD-X language adapters under a LoRA task adapter, offline",
                (("task_adapter", _LORA),)),
    ModelChoice("lora-xlmr", "xlm-roberta-base", "adapter", "a LoRA task adapter alone on XLM-R base",
                (("task_adapter", _LORA),)),
    ModelChoice("madx-xlmr-swa", "xlm-roberta-base", "madx", "MAD-X on XLM-R base, AdapterHub's released "
                "Swahili adapter loaded (the other languages' trained)",
                (("lang_adapter", {"pretrained": {"swa": SWAHILI_ADAPTER}}),)),
)
_ALIASES = {"xlm-roberta-base": "xlmr", "xlm-roberta-large": "xlmr-large", "bert-base-multilingual-cased": "mbert"}


@dataclass
class Draft:
    """What the composer's widgets hold; text fields stay text until written out."""

    study: str = ""
    tasks: list[str] = field(default_factory=list)
    data: dict[str, str] = field(default_factory=dict)  # task -> 'masakhaner' or 'en=ud:en_ewt, yor=ud:yo_ytb'
    models: list[dict[str, Any]] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    zero_shot: bool = True
    few_shot: str = ""  # K values, e.g. '10, 100'
    seeds: str = ""
    train: dict[str, str] = field(default_factory=dict)  # TRAIN_FIELDS -> text
    train_explicit: tuple[str, ...] = ()  # written even when equal to the default (the loaded file had them)
    train_other: dict[str, Any] = field(default_factory=dict)
    settings_other: list[Any] = field(default_factory=list)  # items the two setting widgets cannot show
    extra: dict[str, Any] = field(default_factory=dict)  # exclude and every other top-level key


# ----------------------------------------------------------------------------- text <-> values


def format_scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_scalar(text: str) -> Any:
    """'3' -> 3, '2e-5' -> 2e-05, '' -> None; anything else stays text for the validator to name."""
    text = text.strip()
    if not text:
        return None
    if re.fullmatch(r"[+-]?\d+(_\d+)*", text):
        return int(text)
    try:
        return float(text)
    except ValueError:  # not a number: a word the validator will name if it is wrong
        return {"true": True, "false": False}.get(text.lower(), text)


def parse_list(text: str) -> list[Any]:
    """'1, 2 3' -> [1, 2, 3] (commas or spaces)."""
    return [parse_scalar(t) for t in re.split(r"[,\s]+", text.strip()) if t]


def format_list(values: Any) -> str:
    items = values if isinstance(values, (list, tuple)) else [values]
    return ", ".join(format_scalar(v) for v in items)


def parse_data(text: str) -> str | dict[str, str]:
    """'masakhaner' -> 'masakhaner'; 'en=ud:en_ewt, yor=ud:yo_ytb' -> {en: ud:en_ewt, yor: ud:yo_ytb}."""
    if "=" not in text:
        return text.strip()
    pairs = [p.partition("=") for p in re.split(r"[,\s]+", text.strip()) if p]
    return {k.strip(): v.strip() for k, _, v in pairs}


def format_data(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return format_scalar(value)


def model_alias(ref: str, method: str, taken: set[str] = frozenset(), config: str = "") -> str:
    """A short, valid, unused name for a model entry: 'xlmr', 'madx-xlmr', 'lora-xlmr', 'my-model-2'
    (``config``: the task adapter's method, for method adapter)."""
    base = _ALIASES.get(ref) or re.sub(r"[^A-Za-z0-9._-]+", "-", ref.rstrip("/").rsplit("/", 1)[-1]).strip("-")
    if method == "madx":
        base = f"madx-{base}"
    elif method == "adapter":
        base = f"{re.sub(r'[^A-Za-z0-9._-]+', '', config) or 'adapter'}-{base}"
    base = base or "model"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}-{i}", i + 1
    return name


# ----------------------------------------------------------------------------- a model entry's adapters

# items are separated by commas, or by spaces before the next 'name=': a path may hold spaces, a list commas
_ITEMS = re.compile(r"\s*,\s*(?![^\[{]*[\]}])|\s+(?=[\w.+-]+=)")


def _items(text: str) -> list[tuple[str, str]]:
    """'a=1, b=[x, y] c=d' -> [(a, 1), (b, [x, y]), (c, d)]; an item without '=' has the value ''."""
    pairs = [item.partition("=") for item in _ITEMS.split(text.strip()) if item.strip()]
    return [(k.strip(), v.strip()) for k, _, v in pairs]


def _option_value(text: str) -> Any:
    if text[:1] in ("[", "{"):
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:  # kept as text: the validator names the option
            return text
    return parse_scalar(text) if text else ""


def parse_options(text: str) -> dict[str, Any]:
    """'r=8, alpha=16, target_modules=[q, v]' -> {r: 8, alpha: 16, target_modules: [q, v]}."""
    return {k: _option_value(v) for k, v in _items(text)}


def format_options(options: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_flow(v) if isinstance(v, (list, dict)) else format_scalar(v)}"
                     for k, v in options.items())


def parse_pretrained(text: str) -> dict[str, str]:
    """'swa=AdapterHub/xlm-roberta-base-sw-wiki_pfeiffer, am=/my adapters/am' -> {swa: ..., am: ...}."""
    return dict(_items(text))


def format_pretrained(pretrained: dict[str, Any]) -> str:
    return ", ".join(f"{k}={format_scalar(v)}" for k, v in pretrained.items())


def task_adapter_of(entry: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A model entry's task adapter: (its config name, '' when it names none; the method's options)."""
    raw = entry.get("task_adapter")
    if not isinstance(raw, dict):
        return "", {}
    config = raw.get("config")
    return ("" if config is None else str(config)), {k: v for k, v in raw.items() if k != "config"}


def pretrained_of(entry: dict[str, Any]) -> dict[str, Any]:
    """A model entry's released language adapters: language -> hub id or directory."""
    lang = entry.get("lang_adapter")
    pretrained = lang.get("pretrained") if isinstance(lang, dict) else None
    return dict(pretrained) if isinstance(pretrained, dict) else {}


def _with_key(entry: dict[str, Any], key: str, value: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``entry`` with ``key`` set (in its place, or last), or without it when ``value`` is empty."""
    out = dict(entry)
    if value:
        out[key] = value
    else:
        out.pop(key, None)
    return out


def with_task_adapter(entry: dict[str, Any], config: str, options: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``entry`` whose task adapter is ``config`` ('' : none named) with ``options``."""
    return _with_key(entry, "task_adapter", {**({"config": config} if config else {}), **options})


def with_pretrained(entry: dict[str, Any], pretrained: dict[str, str]) -> dict[str, Any]:
    """A copy of ``entry`` loading ``pretrained`` language adapters; its other lang_adapter keys stay."""
    lang = entry.get("lang_adapter")
    lang = dict(lang) if isinstance(lang, dict) else {}
    return _with_key(entry, "lang_adapter", _with_key(lang, "pretrained", dict(pretrained)))


def same_method(method: str, old: str, new: str) -> bool:
    """Whether two task-adapter names train the same thing (for madx, no name is its seq_bn), so the
    options of one suit the other."""
    if method == "madx":
        old, new = old or MADX_TASK_ADAPTER, new or MADX_TASK_ADAPTER
    return old == new


def entry_note(entry: dict[str, Any]) -> str:
    """The catalogue's note for an entry it offers (unchanged), else what its method trains."""
    for choice in MODEL_CHOICES:
        if choice.entry() == entry:
            return choice.note
    return {"full": "full fine-tuning: every weight trains, no adapters",
            "madx": "MAD-X: language adapters (trained, or released ones loaded) under a task adapter",
            "adapter": "a task adapter alone on the frozen encoder, no language adapters",
            }.get(str(entry.get("method")), "")


# ----------------------------------------------------------------------------- draft <-> grid data


def _one_or_list(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else list(values)


def draft_to_data(d: Draft) -> dict[str, Any]:
    """The grid mapping the draft stands for, keys in reading order."""
    out: dict[str, Any] = {"study": d.study, "task": _one_or_list(d.tasks), "source": _one_or_list(d.source),
                           "targets": list(d.targets),
                           "data": {t: parse_data(d.data[t]) for t in sorted(d.data, key=_task_order)},
                           "models": [dict(m) for m in d.models]}
    settings: list[Any] = ["zero-shot"] if d.zero_shot else []
    if d.few_shot.strip():
        settings.append({"few-shot": parse_list(d.few_shot)})
    out["settings"] = settings + list(d.settings_other)
    out["seeds"] = parse_list(d.seeds)
    train = {}
    for name in TRAIN_FIELDS:
        value = parse_scalar(d.train.get(name, ""))
        if name in d.train_explicit or (value is not None and value != TRAIN_DEFAULTS[name]):
            train[name] = value
    train.update(d.train_other)
    if train:
        out["train"] = train
    out.update(d.extra)
    return out


def _task_order(task: str) -> tuple[int, str]:
    return (TASKS.index(task) if task in TASKS else len(TASKS), task)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def data_to_draft(data: dict[str, Any]) -> Draft:
    """The draft a grid mapping loads into; inverse of draft_to_data on what it writes."""
    settings = _as_list(data.get("settings"))
    ks = [k for s in settings if isinstance(s, dict) and set(s) == {"few-shot"} for k in _as_list(s["few-shot"])]
    train = data.get("train") if isinstance(data.get("train"), dict) else {}
    data_refs = data.get("data") if isinstance(data.get("data"), dict) else {}
    return Draft(
        study=format_scalar(data.get("study")),
        tasks=[str(t) for t in _as_list(data.get("task"))],
        data={str(t): format_data(v) for t, v in data_refs.items()},
        models=[dict(m) if isinstance(m, dict) else m for m in _as_list(data.get("models"))],
        source=[str(s) for s in _as_list(data.get("source"))],
        targets=[str(s) for s in _as_list(data.get("targets"))],
        zero_shot="zero-shot" in settings,
        few_shot=format_list(ks) if ks else "",
        seeds=format_list(data["seeds"]) if "seeds" in data else "",
        train={f: format_scalar(train.get(f, TRAIN_DEFAULTS[f])) for f in TRAIN_FIELDS},
        train_explicit=tuple(f for f in TRAIN_FIELDS if f in train),
        train_other={k: v for k, v in train.items() if k not in TRAIN_FIELDS},
        settings_other=[s for s in settings if s != "zero-shot"
                        and not (isinstance(s, dict) and set(s) == {"few-shot"})],
        extra={k: v for k, v in data.items() if k not in KNOWN_KEYS},
    )


def new_draft(study: str = "my-study") -> Draft:
    """A fresh composer: NER on MasakhaNER from English, 3 seeds, zero-shot, literature defaults."""
    return Draft(study=study, tasks=["ner"], data={"ner": "masakhaner"}, source=["en"], zero_shot=True,
                 seeds="1, 2, 3", train={f: format_scalar(v) for f, v in TRAIN_DEFAULTS.items()})


# ----------------------------------------------------------------------------- YAML text


def _flow(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, allow_unicode=True, width=10**9)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def data_to_yaml(data: dict[str, Any]) -> str:
    """A grid mapping as YAML in the README's style: one line per axis, one per model entry."""
    lines = []
    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines += [f"{key}:", *(f"  - {_flow(v)}" for v in value)]
        elif key == "train" and isinstance(value, dict) and value:
            lines += [f"{key}:", *(f"  {_flow(k)}: {_flow(v)}" for k, v in value.items())]
        else:
            lines.append(f"{key}: {_flow(value)}")
    return "\n".join(lines) + "\n"


def draft_to_yaml(d: Draft) -> str:
    return data_to_yaml(draft_to_data(d))


class DraftError(ValueError):
    """Text that cannot be shown in the composer at all (not YAML, or not a mapping)."""


def yaml_to_draft(text: str, file: str = "grid") -> Draft:
    """Load grid text into a draft; what the schema rejects is kept for the validator to report."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DraftError(f"{file}: not valid YAML ({' '.join(str(exc).split())}); "
                         f"`xltui grid validate {file}` says where") from None
    if not isinstance(data, dict):
        raise DraftError(f"{file}: top level must be a mapping (study:, task:, models:, ...)")
    return data_to_draft(data)
