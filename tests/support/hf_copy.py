"""Local copies of the shared data in the Hugging Face Hub's schema, for offline tests of ``hf:`` data.

Rows are built the way the hub's loading scripts built them, with a minimal parser of
its own (not engine.data.conll / engine.data.conllu, so a reader bug cannot cancel itself out):
``masakhane/masakhaner2`` rows are ``id, tokens, ner_tags`` with the MasakhaNER 2.0
label order; ``universal_dependencies`` rows come from ``conllu.parse_incr``, which
lists multiword tokens and empty nodes as tokens too (upos ``_``, head ``None``);
``shmuhammad/AfriSenti-twitter-sentiment`` rows are ``tweet, label`` (a ClassLabel in the
hub's order positive, neutral, negative), read from the TSVs with the csv module.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

MASAKHANER2_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-DATE", "I-DATE"]
UD_UPOS = ["NOUN", "PUNCT", "ADP", "NUM", "SYM", "SCONJ", "ADJ", "PART", "DET", "CCONJ", "PROPN", "PRON", "X",
           "_", "ADV", "INTJ", "VERB", "AUX"]  # the universal_dependencies ClassLabel order
HUB_SPLIT = {"train": "train", "dev": "validation", "test": "test"}
UD_COLUMNS = ("tokens", "lemmas", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")


def _blocks(path: Path) -> list[list[str]]:
    blocks, block = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            block.append(line)
        elif block:
            blocks.append(block)
            block = []
    return blocks + ([block] if block else [])


def ner_rows(path: Path) -> dict[str, list[Any]]:
    """A CoNLL file as masakhaner2 columns (tags as names; encode them with the features)."""
    rows: dict[str, list[Any]] = {"id": [], "tokens": [], "ner_tags": []}
    for block in _blocks(path):
        pairs = [line.split() for line in block if not line.startswith("-DOCSTART-")]
        rows["id"].append(str(len(rows["id"])))
        rows["tokens"].append([p[0] for p in pairs])
        rows["ner_tags"].append([p[1] for p in pairs])
    return rows


def ud_rows(path: Path) -> dict[str, list[Any]]:
    """A CoNLL-U file as universal_dependencies columns, every token line a row entry (as conllu lists them)."""
    rows: dict[str, list[Any]] = {"idx": [], "text": [], **{c: [] for c in UD_COLUMNS}}
    for n, block in enumerate(_blocks(path)):
        comments = (line[1:].partition("=") for line in block if line.startswith("#") and "=" in line)
        meta = {k.strip(): v.strip() for k, _, v in comments}
        cols = [line.split("\t") for line in block if not line.startswith("#")]
        rows["idx"].append(meta.get("sent_id", str(n)))
        rows["text"].append(meta.get("text", ""))
        for i, name in enumerate(("tokens", "lemmas", "upos", "xpos", "feats")):
            rows[name].append([c[i + 1] for c in cols])
        rows["head"].append([c[6] if c[0].isdigit() else "None" for c in cols])  # ranges, empty nodes: None
        for i, name in ((7, "deprel"), (8, "deps"), (9, "misc")):
            rows[name].append([c[i] for c in cols])
    return rows


def dataset(rows: dict[str, list[Any]], tag_column: str, names: list[str] | None) -> Any:
    """A datasets.Dataset; tags as ClassLabel ids when ``names`` are given, else as plain strings."""
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    tag = ClassLabel(names=names) if names else Value("string")
    features = Features({c: (Sequence(tag) if c == tag_column else Sequence(Value("string")) if isinstance(v[0], list)
                             else Value("string")) for c, v in rows.items()})
    if names:
        rows = {**rows, tag_column: [[names.index(t) for t in ts] for ts in rows[tag_column]]}
    return Dataset.from_dict(rows, features=features)


def write_copy(folder: Path, splits: dict[str, Any], layout: str = "parquet-branch") -> Path:
    """Write {hub split: Dataset} as the parquet branch (<split>/0000.parquet), flat files, or save_to_disk."""
    from datasets import DatasetDict

    folder.mkdir(parents=True, exist_ok=True)
    for split, ds in splits.items():
        if layout == "parquet-branch":
            (folder / split).mkdir(exist_ok=True)
            ds.to_parquet(folder / split / "0000.parquet")
        elif layout == "flat":
            ds.to_parquet(folder / f"copy-{split}.parquet")
    if layout == "save_to_disk":
        DatasetDict(splits).save_to_disk(str(folder))
    return folder


def masakhaner_copy(root: Path, data: Path, langs: tuple[str, ...], layout: str = "parquet-branch",
                    string_tags: bool = False, splits: tuple[str, ...] = ("train", "dev", "test")) -> Path:
    """``root/<lang>/...``: masakhaner2-style configs built from ``data/ner/<lang>/<split>.txt``."""
    for lang in langs:
        write_copy(root / lang, {HUB_SPLIT[s]: dataset(ner_rows(data / "ner" / lang / f"{s}.txt"), "ner_tags",
                                                      None if string_tags else MASAKHANER2_LABELS)
                                 for s in splits}, layout)
    return root


def ud_copy(root: Path, data: Path, treebanks: tuple[str, ...]) -> Path:
    """``root/<treebank>/<split>/0000.parquet`` from every ``*-ud-<split>.conllu`` of the shared treebanks."""
    for tb in treebanks:
        files = {s: data / "pos" / tb / f"{tb}-ud-{s}.conllu" for s in HUB_SPLIT}
        write_copy(root / tb, {HUB_SPLIT[s]: dataset(ud_rows(p), "upos", UD_UPOS) for s, p in files.items()
                               if p.is_file()})
    return root


AFRISENTI_LABELS = ["positive", "neutral", "negative"]  # the hub's ClassLabel order
XLMT_LABELS = ["negative", "neutral", "positive"]  # labels as integers 0, 1, 2


def tsv_rows(path: Path) -> dict[str, list[Any]]:
    """An AfriSenti TSV as hub columns: ``tweet``, ``label`` (names), and ``ID`` where the file has one."""
    with open(path, encoding="utf-8", newline="") as fh:
        header, *rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return {name: [row[i] for row in rows] for i, name in enumerate(header)}


def sentiment_dataset(rows: dict[str, list[Any]], labels: str = "classlabel", text_column: str = "tweet") -> Any:
    """A datasets.Dataset of tweets; ``labels``: "classlabel" (the hub's), "string" or "int" (0..2, XLM-T order)."""
    from datasets import ClassLabel, Dataset, Features, Value

    names = rows["label"]
    if labels == "string":
        label_feature, values = Value("string"), names
    else:
        order = AFRISENTI_LABELS if labels == "classlabel" else XLMT_LABELS
        label_feature = ClassLabel(names=order) if labels == "classlabel" else Value("int64")
        values = [order.index(n) for n in names]
    columns = {**({"ID": rows["ID"]} if "ID" in rows else {}), text_column: rows["tweet"], "label": values}
    features = Features({c: (label_feature if c == "label" else Value("string")) for c in columns})
    return Dataset.from_dict(columns, features=features)


def afrisenti_copy(root: Path, data: Path, langs: tuple[str, ...], labels: str = "classlabel",
                   text_column: str = "tweet", layout: str = "parquet-branch") -> Path:
    """``root/<lang>/...``: AfriSenti-style configs from ``data/sentiment/afrisenti/<lang>/<split>.tsv``
    (a header-only split is left out, as on the hub)."""
    for lang in langs:
        splits = {s: tsv_rows(data / "sentiment" / "afrisenti" / lang / f"{s}.tsv") for s in HUB_SPLIT}
        write_copy(root / lang, {HUB_SPLIT[s]: sentiment_dataset(rows, labels, text_column)
                                 for s, rows in splits.items() if rows["tweet"]}, layout)
    return root
