"""Unlabelled text: what a language adapter learns from, and what the alignment regulariser
pulls towards (parallel pairs or unlabelled target sentences).

Task data (``<task>:<data>``, e.g. ``ner:masakhaner``, ``sentiment:afrisenti``) gives the words of
its train and dev splits, read by the task's data format (engine.data.formats): a tagging
sentence's tokens, a tweet's whitespace-separated words.

Pure (no torch) so the grid can check these files when it loads, long before a
worker would stumble on line 40,000 of a parallel file. The test split is never
text: adapting on evaluation sentences would leak them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.data.catalog import task_files
from engine.data.formats import read_task_file
from engine.data.refs import DataError
from engine.tasks import TASKS, TaskDef

TEXT_SPLITS = ("train", "dev")  # never the test split: adapting on evaluation text would leak it
HF_TEXT_LINES = 200_000  # lines read from a Hugging Face text dataset when the caller sets no limit

Pair = tuple[list[str], list[str]]


def read_parallel(path: Path) -> list[Pair]:
    """``source<TAB>target`` per line (blank lines skipped); a malformed line is an error at ``path:line``."""
    if not path.is_file():
        raise DataError(f"parallel file {path} does not exist")
    pairs: list[Pair] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not parts[0].split() or not parts[1].split():
            raise DataError(f"{path}:{number}: expected 'source sentence<TAB>target sentence'")
        pairs.append((parts[0].split(), parts[1].split()))
    if not pairs:
        raise DataError(f"parallel file {path} holds no sentence pairs")
    return pairs


def _words(task: TaskDef, unit: Any) -> list[str]:
    """A sentence's tokens (tagging data) or a labelled text's words (sentence classification data)."""
    return list(unit.tokens) if task.head == "token" else unit.text.split()


def target_text(ref: str, lang: str) -> list[list[str]]:
    """Unlabelled target sentences: a ``file:`` text or the language's train+dev task data, never test."""
    return read_text(ref, lang, hint=f"give alignment.text: {{{lang}: FILE}} or alignment.parallel")


def read_text(ref: str, lang: str, hint: str | None = None, limit: int | None = None) -> list[list[str]]:
    """The sentences (as word lists) a language adapter (or the aligner) trains on; DataError when none.

    ``limit`` caps what is read from a Hugging Face text dataset (``hf:...``, e.g. Wikipedia).
    """
    kind, _, rest = ref.partition(":")
    if kind == "hf":
        from engine.data.hf_text import hf_text  # lazy: pyarrow only when used

        sentences = hf_text(ref, lang, limit or HF_TEXT_LINES)
    elif kind == "file":
        path = Path(rest)
        if not path.is_file():
            raise DataError(f"language adapter text for '{lang}': no file {path}")
        lines = [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
        sentences = [words for words in lines if words]
    elif kind in TASKS:
        files = task_files(kind, rest, lang)
        sentences = [words for split in TEXT_SPLITS if (p := files.get(split)) is not None
                     for unit in read_task_file(TASKS[kind], p) if (words := _words(TASKS[kind], unit))]
    else:
        raise DataError(f"unlabelled text '{ref}': expected a file path, '<task>:<data>' or 'hf:<dataset>'")
    if not sentences:
        hint = hint or f"give models[].lang_adapter.text: {{{lang}: FILE}}"
        raise DataError(f"unlabelled text for '{lang}': {ref} has no train or dev text (its test split is "
                        f"never used); {hint}")
    return sentences
