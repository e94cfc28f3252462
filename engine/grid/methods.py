"""Task adapters by the ``adapters`` library's own names, checked by its own config classes.

A grid writes ``task_adapter: {config: lora, r: 8, alpha: 16}``: ``config`` is a name of
the library's ADAPTER_CONFIG_MAP (``seq_bn``, ``lora``, ``prefix_tuning``, ``ia3``,
``compacter``, ``loreft``, ...) and every other key an option of that method's config
class. The library builds the config here, before anything is queued, so an unknown
name or option is a grid error listing what is allowed instead of a run that dies in
its first second; the options' types are checked against the class's defaults because
its dataclasses do not check them. MAD-X's own task adapter (``seq_bn`` at a reduction
factor) keeps the spec fields it always had, so grids written before any other method
existed keep their spec hashes.

``adapters`` (which imports torch) is imported only when a grid names a method.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any

from pydantic_core import PydanticCustomError

from engine.spec import DEFAULT_TASK_ADAPTER, TaskAdapter

# what a grid keeps when it writes no method: MAD-X's bottleneck at this reduction factor
DEFAULT_REDUCTION_FACTOR = 16.0


def _error(message: str) -> PydanticCustomError:
    return PydanticCustomError("task_adapter", message)


@cache
def method_names() -> tuple[str, ...]:
    """Every method name the installed ``adapters`` library knows (its ADAPTER_CONFIG_MAP)."""
    from adapters.configuration.adapter_config import ADAPTER_CONFIG_MAP

    return tuple(ADAPTER_CONFIG_MAP)


def _fields(config: Any) -> dict[str, Any]:
    """Option name -> default of a config (a ConfigUnion's options are those of its members)."""
    if dataclasses.is_dataclass(config):
        return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
                if f.name not in ("architecture",)}
    out: dict[str, Any] = {}
    for member in getattr(config, "configs", ()):
        out.update(_fields(member))
    return out


def _type_problem(name: str, value: Any, default: Any) -> str | None:
    """Why ``value`` cannot stand where the library's default is ``default`` (None: it can)."""
    if default is None or value is None:
        return None
    if isinstance(default, bool):
        return None if isinstance(value, bool) else f"{name}: expected true or false, got {value!r}"
    if isinstance(default, (int, float)):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and isinstance(default, int) and not isinstance(default, bool) and isinstance(value, float) \
                and not value.is_integer():
            return f"{name}: expected an integer, got {value!r}"
        return None if ok else f"{name}: expected a number, got {value!r}"
    if isinstance(default, str):
        return None if isinstance(value, str) else f"{name}: expected a string, got {value!r}"
    if isinstance(default, (list, tuple)):
        return None if isinstance(value, (list, tuple)) else f"{name}: expected a list, got {value!r}"
    return None


def library_config(task: TaskAdapter, leave_out: tuple[int, ...] = ()) -> Any:
    """The library's config object for ``task`` (and ``leave_out`` where the method has it); raises
    PydanticCustomError naming what is wrong. The trainers build their adapters from this too."""
    from adapters import AdapterConfig

    names = method_names()
    if task.config not in names:
        raise _error(f"unknown adapter method {task.config!r}; the adapters library offers: {', '.join(names)}")
    base = AdapterConfig.load(task.config)
    allowed = _fields(base)
    unknown = sorted(set(task.options) - set(allowed))
    if unknown:
        raise _error(f"{task.config} has no option {', '.join(map(repr, unknown))}; its options: "
                     f"{', '.join(sorted(allowed))}")
    problems = [p for k, v in task.options.items() if (p := _type_problem(k, v, allowed[k])) is not None]
    if problems:
        raise _error(f"{task.config}: " + "; ".join(problems))
    options = dict(task.options)
    if leave_out:
        if "leave_out" not in allowed:
            raise _error(f"leave_out does not apply to {task.config} (it acts at no layer list of that name)")
        options["leave_out"] = list(leave_out)
    try:
        return AdapterConfig.load(task.config, **_nested(base, options))
    except (TypeError, ValueError, KeyError, AssertionError) as exc:
        raise _error(f"{task.config}: the adapters library refuses these options: {exc}") from None


def _nested(base: Any, options: dict[str, Any]) -> dict[str, Any]:
    """A ConfigUnion takes no flat options: give each member the options it has."""
    if dataclasses.is_dataclass(base):
        return options
    if options:
        raise _error(f"{type(base).__name__} combines several methods; give it no options (write the methods "
                     "separately to tune them)")
    return {}


def task_adapter(raw: dict[str, Any] | None, leave_out: tuple[int, ...] = (),
                 madx: bool = True) -> tuple[float, TaskAdapter | None]:
    """A grid's ``task_adapter`` mapping → (MAD-X's reduction factor, the method when it is another one).
    For ``madx``, its default bottleneck, with or without ``config: seq_bn``, stays the reduction factor
    alone (the spec every MAD-X grid had before other methods existed)."""
    raw = dict(raw or {})
    if not raw and madx:
        return DEFAULT_REDUCTION_FACTOR, None
    name = raw.pop("config", DEFAULT_TASK_ADAPTER)
    if not isinstance(name, str):
        raise _error(f"config: expected a method name such as 'lora' or 'seq_bn', got {name!r}")
    if madx and name == DEFAULT_TASK_ADAPTER and set(raw) <= {"reduction_factor"}:
        factor = raw.get("reduction_factor", DEFAULT_REDUCTION_FACTOR)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor <= 0:
            raise _error(f"reduction_factor: expected a number > 0, got {factor!r}")
        return float(factor), None
    task = TaskAdapter(config=name, options=raw)
    library_config(task, leave_out)
    return DEFAULT_REDUCTION_FACTOR, task
