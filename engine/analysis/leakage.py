"""Was a run evaluated on sentences it trained on? (few-shot leakage check)

Few-shot runs carve K training sentences out of a language's data; for UD Yoruba
and Amharic, which ship a test split only, out of the very file they are tested
on. A run that records its sampled ids as an artifact of kind ``fewshot_ids``
(JSON ``{"train_ids": [...], "eval_split": "test", "eval_ids": [...]}``) can be
checked here; a report names every run whose sets overlap.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.store.reader import Reader, reading, rows_in

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

FEWSHOT_KIND = "fewshot_ids"


@dataclass(frozen=True)
class Leak:
    run_id: int
    language: str | None
    eval_split: str
    overlap: tuple  # the shared ids, sorted by repr (a few are shown in the warning)

    def describe(self) -> str:
        shown = ", ".join(map(str, self.overlap[:5])) + (", …" if len(self.overlap) > 5 else "")
        where = f" ({self.language})" if self.language else ""
        return (f"run {self.run_id}{where} was evaluated on {len(self.overlap)} {self.eval_split} sentence(s) "
                f"it trained on: {shown}")


def train_eval_overlap(train_ids: Iterable, eval_ids: Iterable) -> tuple:
    """Ids present in both sets; ints and their string forms count as the same id."""
    norm = lambda ids: {str(i) for i in ids}
    return tuple(sorted(norm(train_ids) & norm(eval_ids), key=lambda s: (len(s), s)))


def read_fewshot_ids(path: str | Path) -> tuple[list, str, list]:
    """(train_ids, eval_split, eval_ids) from a fewshot_ids artifact; ValueError if malformed."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("train_ids"), list) \
            or not isinstance(data.get("eval_ids"), list):
        raise ValueError(f"{path}: expected {{'train_ids': [...], 'eval_split': ..., 'eval_ids': [...]}}")
    return data["train_ids"], str(data.get("eval_split", "test")), data["eval_ids"]


def find_leaks(source: Engine | Reader, run_ids: Sequence[int]) -> tuple[list[Leak], list[str]]:
    """Leaks among the runs' latest attempts, and notes on artifacts that could not be read."""
    leaks: list[Leak] = []
    problems: list[str] = []
    if not run_ids:
        return leaks, problems
    with reading(source) as reader:  # only the artifacts of each run's latest attempt
        artifacts = rows_in(reader, "SELECT a.run_id, a.language, a.path FROM artifact a JOIN run r "
                            "ON r.id = a.run_id AND r.attempt_id = a.attempt_id "
                            "WHERE a.kind = :kind AND a.run_id IN ({in}) ORDER BY a.id", run_ids, {"kind": FEWSHOT_KIND})
    for run_id, language, path in artifacts:
        try:
            train, split, evaluated = read_fewshot_ids(path)
        except (OSError, ValueError) as exc:
            problems.append(f"run {run_id}: few-shot ids could not be checked ({exc})")
            continue
        shared = train_eval_overlap(train, evaluated)
        if shared:
            leaks.append(Leak(run_id, language, split, shared))
    return leaks, problems
