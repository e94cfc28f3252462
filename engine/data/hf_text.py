"""Unlabelled text from a Hugging Face dataset (Wikipedia, CC-100) for language adapters.

``hf:wikimedia/wikipedia:20231101.{lang2}`` or a local copy ``hf:./wiki:20231101.sw``:
the same references and parquet layout as the tagging data (engine.data.hf_source), read
from the ``text`` column of the train split (every file when none is named train),
one sentence per non-empty line. Only as many lines as the adapter's MLM steps can
use are read, in batches, so a multi-gigabyte Wikipedia dump is never loaded whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.data.hf_data import read_table
from engine.data.hf_source import DATA_SUFFIXES, config_candidates, locate, parse_hf_ref, split_files
from engine.data.refs import DataError

TEXT_COLUMN = "text"


def _files(folder: Path) -> list[Path]:
    splits = split_files(folder)
    if splits:
        return splits.get("train") or [p for files in splits.values() for p in files]
    return sorted(p for p in folder.rglob("*") if p.suffix in DATA_SUFFIXES and p.is_file())


def _batches(path: Path) -> Iterator[Any]:
    """The text column in record batches: parquet streamed (a Wikipedia dump is never read whole)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        try:
            source = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{path}: not a readable parquet file ({exc})") from None
        names = source.schema_arrow.names
        batches = source.iter_batches(columns=[TEXT_COLUMN], batch_size=1024) if TEXT_COLUMN in names else None
    else:
        table = read_table(path)
        names = table.column_names
        batches = table.select([TEXT_COLUMN]).to_batches(max_chunksize=1024) if TEXT_COLUMN in names else None
    if batches is None:
        raise DataError(f"{path}: no '{TEXT_COLUMN}' column (columns: {', '.join(names)})")
    return batches


def _lines(path: Path, limit: int) -> list[list[str]]:
    import pyarrow as pa

    out: list[list[str]] = []
    try:
        for batch in _batches(path):
            for text in batch.column(0).to_pylist():
                out += [words for line in (text or "").splitlines() if (words := line.split())]
                if len(out) >= limit:
                    return out[:limit]
    except (pa.ArrowException, OSError) as exc:  # a damaged row group, found while streaming
        raise DataError(f"{path}: not a readable {path.suffix[1:]} file ({exc})") from None
    return out


def hf_text(ref: str, lang: str, limit: int) -> list[list[str]]:
    """Up to ``limit`` sentences (word lists) of ``lang`` from a Hugging Face text dataset."""
    parsed = parse_hf_ref(ref)
    located = locate(parsed, config_candidates(parsed, "text", lang))
    files = _files(located.folder)
    if not files:
        raise DataError(f"{ref}: no parquet or arrow files under {located.folder}")
    sentences: list[list[str]] = []
    for path in files:
        sentences += _lines(path, limit - len(sentences))
        if len(sentences) >= limit:
            break
    return sentences
