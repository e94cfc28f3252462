"""Hugging Face datasets (``hf:`` references) turned into the CoNLL / CoNLL-U files the engine reads.

Each (source files, config, task) is converted once into ``$XLTUI_CACHE/hf/<key>/``
(default ``~/.cache/xltui``), the key hashing the converter version, task, config and
the bytes of the source files: the same data always lands in the same files, new data
never reuses stale ones, and everything downstream -- the readers, the file hashes stored
with results, few-shot sampling -- sees ordinary split files. A cache entry appears whole
or not at all (written to a temporary folder, then renamed), so workers that convert the
same data at the same moment cannot see half a file.

Schema (as on the Hub): ``tokens`` plus ``ner_tags`` (NER) or ``upos`` / ``pos_tags`` (POS),
each a list of class labels (names from the ClassLabel feature) or of strings. UD rows
in the ``universal_dependencies`` schema also list multiword tokens and empty nodes, whose
``head`` is not a number: those are dropped so the words match the treebank's word lines,
and ``idx`` becomes the CoNLL-U ``sent_id`` (when unique in its split; else ids are positions).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.data.hf_source import Located, config_candidates, locate, parse_hf_ref, split_files
from engine.data.refs import SPLITS, DataError, SplitFiles, pos_split_files
from engine.settings import cache_root

FORMAT = 1  # bump when the conversion changes: old cache entries are then never reused
SOURCE_FILE = "source.json"  # written last: its presence marks a complete entry
TAG_COLUMNS = {"ner": ("ner_tags",), "pos": ("upos", "pos_tags")}
SUFFIX = {"ner": ".txt", "pos": ".conllu"}
_NER_BAD = set(" \t\n\r\f\v")  # engine.data.conll splits fields on ASCII whitespace
_CONLLU_BAD = set("\t\n\r")  # a CoNLL-U FORM may hold spaces, not TABs or line breaks

Sentence = tuple[str | None, list[str], list[str]]  # (sent_id, words, tags)


def cache_dir() -> Path:
    return cache_root() / "hf"


def _key(task: str, located: Located, sources: dict[str, list[Path]], version: int = FORMAT) -> str:
    digest = hashlib.sha256(json.dumps([version, task, located.config]).encode())
    for split in sorted(sources):
        for path in sources[split]:
            digest.update(f"\0{split}\0{path.relative_to(located.folder)}\0".encode())
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:32]


def read_table(path: Path) -> Any:
    """A pyarrow table with its Hugging Face feature metadata (parquet, or arrow as datasets writes it)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Dataset

    try:
        return pq.read_table(path) if path.suffix == ".parquet" else Dataset.from_file(str(path)).data.table
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a readable {path.suffix[1:]} file ({exc})") from None


def _decoder(feature: Any, column: str, where: str) -> Callable[[Any], str]:
    """Tag id -> name through the ClassLabel names; string tags pass through."""
    from datasets import ClassLabel, Value

    inner = getattr(feature, "feature", None)
    if isinstance(inner, ClassLabel):
        names = inner.names

        def name(i: Any) -> str:
            if not isinstance(i, int) or not 0 <= i < len(names):
                raise DataError(f"{where}: {column} value {i!r} is not a label id (0..{len(names) - 1})")
            return names[i]

        return name
    if isinstance(inner, Value) and inner.dtype in ("string", "large_string"):
        def text(t: Any) -> str:
            if not isinstance(t, str):
                raise DataError(f"{where}: {column} value {t!r} is not a tag")
            return t

        return text
    raise DataError(f"{where}: column '{column}' is {feature}, not a list of class labels or strings "
                    "(a copy written without datasets loses the label names: use to_parquet or save_to_disk)")


def _rows(task: str, path: Path, where: str) -> Iterator[Sentence | None]:
    """Each row as (sent_id, words, tags), None for an empty row; DataError for a bad column or value."""
    from datasets import Features

    table = read_table(path)
    cols = table.column_names
    tag_col = next((c for c in TAG_COLUMNS[task] if c in cols), None)
    if "tokens" not in cols or tag_col is None:
        need = " or ".join(f"'{c}'" for c in TAG_COLUMNS[task])
        raise DataError(f"{where}: {path.name} has no {'tokens' if 'tokens' not in cols else need} column "
                        f"(columns: {', '.join(cols)}); {task.upper()} data needs 'tokens' and {need}")
    decode = _decoder(Features.from_arrow_schema(table.schema)[tag_col], tag_col, where)
    heads = table.column("head").to_pylist() if task == "pos" and "head" in cols else None
    ids = table.column("idx").to_pylist() if task == "pos" and "idx" in cols else None
    for i, (words, tags) in enumerate(zip(table.column("tokens").to_pylist(), table.column(tag_col).to_pylist())):
        here = f"{where}: {path.name} row {i}"
        if words is None or tags is None or len(words) != len(tags):
            raise DataError(f"{here}: {len(words or [])} tokens but {len(tags or [])} {tag_col}")
        if heads is not None and len(heads[i] or []) != len(words):
            raise DataError(f"{here}: {len(words)} tokens but {len(heads[i] or [])} head values")
        keep = range(len(words)) if heads is None else [j for j, h in enumerate(heads[i]) if _is_head(h)]
        words, tags = [words[j] for j in keep], [decode(tags[j]) for j in keep]
        _check(task, words, tags, here)
        sent_id = None if ids is None or ids[i] is None else str(ids[i])
        yield (sent_id, words, tags) if words else None


def _is_head(value: Any) -> bool:
    """A word's head is a number; multiword tokens and empty nodes have 'None' (conllu's null)."""
    return str(value).isascii() and str(value).isdigit()


def _check(task: str, words: list[str], tags: list[str], here: str) -> None:
    """Values the CoNLL / CoNLL-U readers could not read back exactly are errors, never silently changed."""
    bad = _NER_BAD if task == "ner" else _CONLLU_BAD
    for j, (word, tag) in enumerate(zip(words, tags)):
        if not isinstance(word, str) or not word or bad & set(word) or (task == "ner" and word == "-DOCSTART-"):
            raise DataError(f"{here}: token {j} {word!r} cannot be written as a {task.upper()} word")
        if not tag or _NER_BAD & set(tag) or (task == "pos" and tag == "_"):
            raise DataError(f"{here}: token {j} {word!r} has no usable tag ({tag!r})")


def _render(task: str, sentences: list[Sentence]) -> str:
    ids = [s[0] for s in sentences]
    use_ids = task == "pos" and None not in ids and len(set(ids)) == len(ids) and all(
        i.strip() and "\n" not in i and "\r" not in i for i in ids if i is not None)
    blocks = []
    for sent_id, words, tags in sentences:
        if task == "ner":
            blocks.append("".join(f"{w} {t}\n" for w, t in zip(words, tags)))
        else:
            head = f"# sent_id = {sent_id}\n" if use_ids else ""
            blocks.append(head + "".join(f"{n}\t{w}\t_\t{t}\t_\t_\t_\t_\t_\t_\n"
                                         for n, (w, t) in enumerate(zip(words, tags), start=1)))
    return "\n".join(blocks)


def entry_dir(task: str, located: Located, sources: dict[str, list[Path]], version: int = FORMAT) -> Path:
    """The cache folder of one conversion: keyed by the converter's ``version``, the task, the config
    and the source files' names and bytes (engine.data.hf_sentiment converts with its own version)."""
    return cache_dir() / _key(task, located, sources, version)


def split_sources(ref: str, located: Located) -> dict[str, list[Path]]:
    """split -> its parquet / arrow files in the located config; DataError when none is named for a split."""
    sources = split_files(located.folder)
    if not sources:
        raise DataError(f"{ref}: no parquet or arrow files named for a split (train, validation, test) "
                        f"in {located.folder}")
    return sources


def write_entry(out: Path, files: dict[str, str], info: dict[str, Any]) -> None:
    """Write the files into a fresh folder, then rename it to ``out`` (all or nothing)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}-{uuid.uuid4().hex}"  # private to this writer
    tmp.mkdir()
    try:
        for name, text in files.items():
            with open(tmp / name, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
        (tmp / SOURCE_FILE).write_text(json.dumps(info, indent=1, ensure_ascii=False), encoding="utf-8")
        try:
            os.rename(tmp, out)
        except OSError:
            if not (out / SOURCE_FILE).is_file():  # not a finished entry by a concurrent writer
                raise DataError(f"{out} exists but is no complete xltui cache entry; delete it") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _materialise(task: str, ref: str, located: Located, sources: dict[str, list[Path]], out: Path) -> None:
    where = f"{ref} (config {located.config})" if located.config else ref
    files, counts, empty = {}, {}, {}
    for split in SPLITS:
        rows = [r for path in sources.get(split, []) for r in _rows(task, path, f"{where} split {split}")]
        sentences = [r for r in rows if r is not None]
        if sentences:
            files[split + SUFFIX[task]] = _render(task, sentences)
            counts[split], empty[split] = len(sentences), len(rows) - len(sentences)
    info = {"format": FORMAT, "task": task, "reference": ref, "config": located.config, "origin": located.origin,
            "sources": {s: [str(p.relative_to(located.folder)) for p in ps] for s, ps in sources.items()},
            "sentences": counts, "empty_rows_skipped": empty}
    write_entry(out, files, info)


def hf_split_files(task: str, ref: str, lang: str) -> SplitFiles:
    """Resolve an ``hf:`` reference for one language to cached CoNLL / CoNLL-U split files."""
    parsed = parse_hf_ref(ref)
    located = locate(parsed, config_candidates(parsed, task, lang))
    sources = split_sources(ref, located)
    out = entry_dir(task, located, sources)
    if not (out / SOURCE_FILE).is_file():
        _materialise(task, ref, located, sources, out)
    info = json.loads((out / SOURCE_FILE).read_text(encoding="utf-8"))
    found = {s: (out / f"{s}{SUFFIX[task]}" if s in info["sentences"] else None) for s in SPLITS}
    counts = ", ".join(f"{n} {s}" for s, n in info["sentences"].items())
    name = f"{ref} config {located.config}" if located.config else ref
    note = f"{name} from {located.origin}, content key {out.name}: {counts} sentences in {out}"
    files = pos_split_files(found, name) if task == "pos" else SplitFiles(**found)
    return replace(files, note="; ".join(n for n in (note, files.note) if n))
