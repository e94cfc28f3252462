"""Hugging Face sentiment datasets (``hf:`` references) turned into the TSV files engine.data.sentiment reads.

Same references, local copies and cache as the tagging data (engine.data.hf_source,
engine.data.hf_data): each (source files, config) is converted once into
``$XLTUI_CACHE/hf/<key>/{train,dev,test}.tsv`` with the header ``tweet<TAB>label``
(``ID<TAB>tweet<TAB>label`` when the rows carry unique ids), so the strict reader, the file
scan and few-shot sampling see ordinary split files.

Schema: the text in a ``tweet`` (AfriSenti, ``shmuhammad/AfriSenti-twitter-sentiment``, one
config per language: ``hau``, ``amh``...) or ``text`` column; the label in ``label``, as a
ClassLabel (its names are used: AfriSenti's order is positive, neutral, negative), as the label
strings, or as integers 0, 1, 2 = negative, neutral, positive (XLM-T's order). A text's TABs and
line breaks become spaces (the files are one text per line); a row without text is skipped
and counted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.data.hf_data import SOURCE_FILE, entry_dir, read_table, split_sources, write_entry
from engine.data.hf_source import Located, config_candidates, locate, parse_hf_ref
from engine.data.refs import SPLITS, DataError, SplitFiles, sentiment_language
from engine.data.sentiment import LABELS, clean_text

FORMAT = 1  # bump when the conversion changes: old cache entries are then never reused
TASK = "sentiment"
TEXT_COLUMNS = ("tweet", "text")
LABEL_COLUMN = "label"
ID_COLUMNS = ("ID", "id")
_INT_TYPES = {f"{u}int{n}" for u in ("", "u") for n in (8, 16, 32, 64)}

Row = tuple[str | None, str, str]  # (id, text, label)


def _decoder(feature: Any, where: str, labels: Sequence[str]) -> Callable[[Any], str]:
    """A label value -> one of ``labels``: ClassLabel ids through their names, strings as they are,
    integers as the index in ``labels``."""
    from datasets import ClassLabel, Value

    if isinstance(feature, ClassLabel):
        names: Sequence[str] = feature.names
    elif isinstance(feature, Value) and feature.dtype in _INT_TYPES:
        names = labels
    elif isinstance(feature, Value) and feature.dtype in ("string", "large_string"):
        names = ()
    else:
        raise DataError(f"{where}: column '{LABEL_COLUMN}' is {feature}, not a class label, a label string "
                        f"or an integer 0..{len(labels) - 1} ({', '.join(labels)})")

    def decode(value: Any) -> str:
        if names and isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
            value = names[value]
        elif names:
            raise DataError(f"{where}: label {value!r} is not a label id (0..{len(names) - 1})")
        if value not in labels:
            raise DataError(f"{where}: label {value!r} is not one of {', '.join(labels)}")
        return value

    return decode


def _ids(table: Any) -> list[str] | None:
    """The rows' ids when an ID column holds one usable id per row (unique, one field), else None."""
    column = next((c for c in ID_COLUMNS if c in table.column_names), None)
    if column is None:
        return None
    ids = [None if v is None else str(v).strip() for v in table.column(column).to_pylist()]
    usable = all(i and clean_text(i) == i for i in ids) and len(set(ids)) == len(ids)
    return ids if usable else None  # type: ignore[return-value]


def _rows(path: Path, where: str, labels: Sequence[str]) -> tuple[list[Row], int]:
    """The rows of one parquet / arrow file as (id, text, label), and how many had no text."""
    from datasets import Features

    table = read_table(path)
    cols = table.column_names
    text_col = next((c for c in TEXT_COLUMNS if c in cols), None)
    if text_col is None or LABEL_COLUMN not in cols:
        missing = "'tweet' or 'text'" if text_col is None else f"'{LABEL_COLUMN}'"
        raise DataError(f"{where}: {path.name} has no {missing} column (columns: {', '.join(cols)}); sentiment "
                        f"data needs 'tweet' (or 'text') and '{LABEL_COLUMN}'")
    decode = _decoder(Features.from_arrow_schema(table.schema)[LABEL_COLUMN], f"{where}: {path.name}", labels)
    ids = _ids(table)
    rows: list[Row] = []
    empty = 0
    texts, golds = table.column(text_col).to_pylist(), table.column(LABEL_COLUMN).to_pylist()
    for i, (text, gold) in enumerate(zip(texts, golds)):
        text = clean_text(text) if isinstance(text, str) else ""
        if not text:
            empty += 1
            continue
        rows.append((ids[i] if ids else None, text, decode(gold)))
    return rows, empty


def _render(rows: list[Row]) -> str:
    if all(r[0] is not None for r in rows) and len({r[0] for r in rows}) == len(rows):
        return "ID\ttweet\tlabel\n" + "".join(f"{i}\t{t}\t{g}\n" for i, t, g in rows)
    return "tweet\tlabel\n" + "".join(f"{t}\t{g}\n" for _, t, g in rows)


def _materialise(ref: str, located: Located, sources: dict[str, list[Path]], out: Path) -> None:
    where = f"{ref} (config {located.config})" if located.config else ref
    files, counts, empty = {}, {}, {}
    for split in SPLITS:
        rows: list[Row] = []
        skipped = 0
        for path in sources.get(split, []):
            got, none = _rows(path, f"{where} split {split}", LABELS)
            rows += got
            skipped += none
        if rows:
            files[f"{split}.tsv"] = _render(rows)
            counts[split], empty[split] = len(rows), skipped
    info = {"format": FORMAT, "task": TASK, "reference": ref, "config": located.config, "origin": located.origin,
            "sources": {s: [str(p.relative_to(located.folder)) for p in ps] for s, ps in sources.items()},
            "texts": counts, "empty_rows_skipped": empty}
    write_entry(out, files, info)


def hf_sentiment_files(ref: str, lang: str) -> SplitFiles:
    """Resolve an ``hf:`` sentiment reference for one language to cached TSV split files.

    The config defaults to the language code, then its AfriSenti code (``ha`` -> ``hau``).
    """
    parsed = parse_hf_ref(ref)
    candidates = config_candidates(parsed, TASK, lang)
    if parsed.config is None:
        candidates = list(dict.fromkeys([*candidates, sentiment_language(lang)]))
    located = locate(parsed, candidates)
    sources = split_sources(ref, located)
    out = entry_dir(TASK, located, sources, FORMAT)
    if not (out / SOURCE_FILE).is_file():
        _materialise(ref, located, sources, out)
    info = json.loads((out / SOURCE_FILE).read_text(encoding="utf-8"))
    name = f"{ref} config {located.config}" if located.config else ref
    if not info["texts"]:
        raise DataError(f"{name}: no split holds a tweet with a label")
    counts = ", ".join(f"{n} {s}" for s, n in info["texts"].items())
    return SplitFiles(**{s: (out / f"{s}.tsv" if s in info["texts"] else None) for s in SPLITS},
                      note=f"{name} from {located.origin}, content key {out.name}: {counts} texts in {out}")
