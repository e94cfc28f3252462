"""Every random generator a run draws from, captured and restored as plain data.

Python's, NumPy's, torch's CPU generator, every CUDA device's (when CUDA is up) and the
run's own data generators (the sampler's ``torch.Generator``, a ``random.Random`` that
interleaves source languages). Plain data (tensors, ints, tuples) so a saved state loads
with ``torch.load(weights_only=True)``: a state file is data, never code.
"""

from __future__ import annotations

import random
from typing import Any, Iterable, Sequence

import numpy as np
import torch

Generator = torch.Generator | random.Random


def capture(generators: Sequence[Generator] = ()) -> dict[str, Any]:
    """The state of every generator, now."""
    kind, key, pos, has_gauss, gauss = np.random.get_state(legacy=True)  # type: ignore[misc]
    state: dict[str, Any] = dict(python=random.getstate(), numpy=(kind, torch.from_numpy(key.astype(np.int64)), pos,
                                                                   has_gauss, gauss),
                                 torch=torch.get_rng_state(), data=[_state_of(g) for g in generators])
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore(state: dict[str, Any], generators: Sequence[Generator] = ()) -> None:
    """Set every generator back to ``state`` (from ``capture`` with the same generators, in order)."""
    random.setstate(state["python"])
    kind, key, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, key.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if len(state["data"]) != len(generators):
        raise ValueError(f"saved state has {len(state['data'])} data generator(s), this run has {len(generators)}")
    for generator, saved in zip(generators, state["data"]):
        if isinstance(generator, random.Random):
            generator.setstate(saved)
        else:
            generator.set_state(saved)


def _state_of(generator: Generator) -> Any:
    return generator.getstate() if isinstance(generator, random.Random) else generator.get_state()


def data_generators(source: Any) -> list[Generator]:
    """The generators that decide a data source's batch order: a DataLoader's (``generator``, its
    sampler's) or those a source names itself (``generators()``), each once."""
    if hasattr(source, "generators"):
        found: Iterable[Any] = source.generators()
    else:
        found = (getattr(source, "generator", None), getattr(getattr(source, "sampler", None), "generator", None))
    out: list[Generator] = []
    for g in found:
        if g is not None and all(g is not seen for seen in out):
            out.append(g)
    return out
