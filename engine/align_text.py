"""The text the alignment regulariser pulls towards: parallel pairs or unlabelled target sentences.

Pure (no torch) so the grid can check these files when it loads, long before a
worker would stumble on line 40,000 of a parallel file.
"""

from __future__ import annotations

from pathlib import Path

from engine.adapter_plan import read_text
from engine.datapaths import DataError

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


def target_text(ref: str, lang: str) -> list[list[str]]:
    """Unlabelled target sentences: a ``file:`` text or the language's train+dev task data, never test."""
    return read_text(ref, lang, hint=f"give alignment.text: {{{lang}: FILE}} or alignment.parallel")
