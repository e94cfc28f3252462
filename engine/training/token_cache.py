"""Tokenised sentences cached on disk, keyed by (tokenizer, content hash of the words, max length).

Every run of a grid tokenises the same source train/dev files and every target's
test file again: three seeds x three models x several targets. The key holds a
fingerprint of the tokenizer (its full serialised pipeline, so a retrained or
differently configured tokenizer never hits another's entry), a hash of the words
tokenised (it plays the role of the file hash and also covers a file's first N
sentences or a few-shot subset) and ``max_length``. Entries are written atomically,
so concurrent workers at worst tokenise twice.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.settings import cache_root

FORMAT = "1"  # bump when the stored layout changes

Tokenised = list[tuple[list[int], list[int | None]]]  # per sentence: input ids, word id of each subword
_fingerprints: dict[int, tuple[object, str]] = {}


def tokenizer_fingerprint(tokenizer) -> str:
    """Hash of what decides the subwords: the fast tokenizer's serialised pipeline and its class."""
    held = _fingerprints.get(id(tokenizer))
    if held is not None and held[0] is tokenizer:
        return held[1]
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise TypeError(f"{type(tokenizer).__name__} is not a fast tokenizer: word alignment needs word_ids()")
    digest = hashlib.sha256(type(tokenizer).__name__.encode() + b"\0" + backend.to_str().encode()).hexdigest()
    _fingerprints[id(tokenizer)] = (tokenizer, digest)
    return digest


def words_hash(sentences: Sequence[Sequence[str]]) -> str:
    digest = hashlib.sha256()
    for words in sentences:
        digest.update("\x1f".join(words).encode("utf-8") + b"\x1e")
    return digest.hexdigest()


def tokenize_words(tokenizer, sentences: Sequence[Sequence[str]], max_length: int) -> Tokenised:
    """Subword ids and word ids per sentence, truncated to ``max_length`` (no cache)."""
    if not sentences:
        return []
    enc = tokenizer([list(s) for s in sentences], is_split_into_words=True, truncation=True, max_length=max_length)
    return [(list(enc["input_ids"][i]), enc.word_ids(i)) for i in range(len(sentences))]


def _key(tokenizer, sentences: Sequence[Sequence[str]], max_length: int) -> str:
    raw = f"{FORMAT}|{tokenizer_fingerprint(tokenizer)}|{words_hash(sentences)}|{max_length}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _save(path: Path, tokenised: Tokenised) -> None:
    lengths = np.array([len(ids) for ids, _ in tokenised], dtype=np.int64)
    ids = np.fromiter((i for seq, _ in tokenised for i in seq), dtype=np.int64, count=int(lengths.sum()))
    words = np.fromiter((-1 if w is None else w for _, seq in tokenised for w in seq), dtype=np.int64,
                        count=int(lengths.sum()))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, lengths=lengths, ids=ids, words=words)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _load(path: Path) -> Tokenised:
    with np.load(path) as data:
        lengths, ids, words = data["lengths"], data["ids"].tolist(), data["words"].tolist()
    out: Tokenised = []
    start = 0
    for n in lengths.tolist():
        out.append((ids[start:start + n], [None if w < 0 else w for w in words[start:start + n]]))
        start += n
    return out


def cached_tokenize(tokenizer, sentences: Sequence[Sequence[str]], max_length: int,
                    root: Path | None = None) -> tuple[Tokenised, bool]:
    """``tokenize_words`` through the disk cache; also says whether it was a hit."""
    path = (root or cache_root()) / "tokens" / f"{_key(tokenizer, sentences, max_length)}.npz"
    if path.is_file():
        try:
            cached = _load(path)
        except (OSError, ValueError, KeyError):  # a damaged entry is recomputed and replaced
            cached = None
        if cached is not None and len(cached) == len(sentences):
            return cached, True
    tokenised = tokenize_words(tokenizer, sentences, max_length)
    _save(path, tokenised)
    return tokenised, False
