"""Where a Hugging Face dataset reference (``hf:...``) points, and how its split files are found.

Syntax (the grid's ``data:`` value, per task or per language)::

    hf:<org/name>[@<revision>][:<config>]     a dataset on the Hugging Face Hub
    hf:<local copy dir>[:<config>]             a copy of it on disk; starts with /, ./, ../ or ~

Hub datasets are read from their parquet conversion (revision ``refs/convert/parquet``,
laid out ``<config>/<split>/NNNN.parquet``): it exists for every public dataset,
including script-based ones (``masakhane/masakhaner2``, ``universal_dependencies``)
that ``datasets`` 4 no longer runs, and it pins an exact commit. ``@<revision>`` names
a commit of that branch. A local copy is that same layout (``hf download ... --local-dir``),
a ``save_to_disk`` directory, or any directory of parquet / arrow files whose names say
their split (``train``, ``validation``/``dev``, ``test``), with or without one folder per config.

The config defaults to the grid's language code (then its aliases, and for POS the
language's default UD treebank); ``{lang}`` and ``{lang2}`` (ISO 639-1) in an explicit
config stand for the language, e.g. ``hf:google/xtreme:PAN-X.{lang2}``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from engine.data.refs import HF_PREFIX, LANGUAGE_DIR_ALIASES, UD_DEFAULT_TREEBANK, DataError
from engine.settings import hub_offline

PARQUET_BRANCH = "refs/convert/parquet"
SPLIT_WORDS = {"train": "train", "training": "train", "validation": "dev", "valid": "dev", "dev": "dev",
               "test": "test"}
DATA_SUFFIXES = (".parquet", ".arrow")
HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")  # name or org/name
_CONFIG = re.compile(r"[A-Za-z0-9._+-]+")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# ISO 639-3 -> 639-1 for ``{lang2}``, where a 639-1 code exists (MasakhaNER, UD and XTREME languages)
ISO1 = {"eng": "en", "swa": "sw", "yor": "yo", "hau": "ha", "amh": "am", "ibo": "ig", "kin": "rw", "lug": "lg",
        "nya": "ny", "sna": "sn", "tsn": "tn", "twi": "tw", "wol": "wo", "xho": "xh", "zul": "zu", "ewe": "ee",
        "bam": "bm", "som": "so", "orm": "om", "tir": "ti", "lin": "ln", "mlg": "mg", "afr": "af", "ara": "ar",
        "fra": "fr", "deu": "de", "spa": "es", "por": "pt", "rus": "ru", "hin": "hi", "zho": "zh", "jpn": "ja"}


@dataclass(frozen=True)
class HfRef:
    """A parsed ``hf:`` reference; ``str()`` gives it back in canonical form."""

    source: str  # hub id, or a local directory
    local: bool
    revision: str | None = None  # hub only; None = the parquet conversion branch
    config: str | None = None  # may hold {lang} / {lang2}

    def __str__(self) -> str:
        rev = f"@{self.revision}" if self.revision else ""
        return f"{HF_PREFIX}{self.source}{rev}" + (f":{self.config}" if self.config else "")


def parse_hf_ref(ref: str) -> HfRef:
    """Split ``hf:source[@revision][:config]``; raises DataError saying how to write it."""
    body = ref[len(HF_PREFIX):].strip()
    usage = "write hf:<org/name>[:config] or hf:<local copy dir>[:config]"
    if not body:
        raise DataError(f"empty Hugging Face reference '{ref}'; {usage}")
    head, sep, config = body.rpartition(":")
    if not sep or "/" in config or "\\" in config:
        head, config = body, ""
    elif not config:
        raise DataError(f"'{ref}': nothing after ':'; {usage}")
    if config and not _CONFIG.fullmatch(_PLACEHOLDER.sub("x", config)):
        raise DataError(f"'{ref}': '{config}' is not a config name (letters, digits, . _ + -; {{lang}}, {{lang2}})")
    if head.startswith(("/", ".", "~")) or "\\" in head:
        return HfRef(head, True, None, config or None)
    repo, at, revision = head.partition("@")
    if not HUB_ID.fullmatch(repo) or (at and not revision):
        raise DataError(f"'{ref}': '{head}' is not a Hugging Face dataset id like 'org/name' "
                        "(a local copy must start with /, ./, ../ or ~)")
    return HfRef(repo, False, revision or None, config or None)


def resolve_hf_ref(ref: str, base_dir: Path) -> str:
    """A grid's ``hf:`` value as stored: a local copy made absolute (relative to the grid file)."""
    parsed = parse_hf_ref(ref)
    if not parsed.local:
        return ref
    path = (base_dir / Path(parsed.source).expanduser()).resolve()
    return str(HfRef(str(path), True, None, parsed.config))


def _expand(template: str, lang: str) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(1) == "lang":
            return lang
        if m.group(1) == "lang2":
            code = lang if len(lang) == 2 else ISO1.get(lang)
            if code is None:
                raise DataError(f"no ISO 639-1 code known for '{lang}' ({{lang2}}); give this language's config "
                                f"explicitly, e.g. data: {{task: {{{lang}: \"hf:...:CONFIG\"}}}}")
            return code
        raise DataError(f"unknown placeholder {{{m.group(1)}}} in config '{template}'; use {{lang}} or {{lang2}}")

    return _PLACEHOLDER.sub(one, template)


def config_candidates(ref: HfRef, task: str, lang: str) -> list[str]:
    """Configs to try, in order: the explicit one, else the language code, its alias, its UD treebank."""
    if ref.config:
        return [_expand(ref.config, lang)]
    names = [lang, LANGUAGE_DIR_ALIASES.get(lang, lang)]
    if task == "pos" and lang in UD_DEFAULT_TREEBANK:
        names.append(UD_DEFAULT_TREEBANK[lang])
    return list(dict.fromkeys(names))


def _split_of(rel: Path) -> str | None:
    words = {SPLIT_WORDS[w] for w in re.split(r"[^a-z]+", str(rel.with_suffix("")).lower()) if w in SPLIT_WORDS}
    if len(words) > 1:
        raise DataError(f"{rel}: the name matches several splits ({', '.join(sorted(words))}); rename it")
    return words.pop() if words else None


def split_files(folder: Path) -> dict[str, list[Path]]:
    """split (train/dev/test) -> its parquet or arrow files under ``folder``, in name order."""
    out: dict[str, list[Path]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.suffix in DATA_SUFFIXES and p.is_file()):
        split = _split_of(path.relative_to(folder))
        if split is not None:
            out.setdefault(split, []).append(path)
    return out


def _is_single_config(root: Path) -> bool:
    """Whether ``root`` holds one dataset (splits at its top) rather than one folder per config."""
    if (root / "dataset_dict.json").is_file():
        return True
    for child in root.iterdir():
        word = child.name.lower() if child.is_dir() else Path(child.name).stem.lower()
        if (child.is_dir() and word in SPLIT_WORDS) or (child.suffix in DATA_SUFFIXES and _split_of(Path(child.name))):
            return True
    return False


@dataclass(frozen=True)
class Located:
    folder: Path  # the split files of one config
    config: str | None  # None: a single-config local copy
    origin: str  # for the run log: which copy or which hub commit


@functools.cache
def _hub_snapshot(repo: str, revision: str, configs: tuple[str, ...]) -> Path:
    """Download (or find in the Hugging Face cache) the parquet files of ``configs``; once per process."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    ref = f"{HF_PREFIX}{repo}"
    try:
        return Path(snapshot_download(repo, repo_type="dataset", revision=revision, local_files_only=hub_offline(),
                                      allow_patterns=[f"{c}/*" for c in configs]))
    except (RepositoryNotFoundError, GatedRepoError) as exc:
        raise DataError(f"{ref}: no such dataset on the Hugging Face Hub, or it needs a login (hf auth login): "
                        f"{type(exc).__name__}") from None
    except RevisionNotFoundError:
        raise DataError(f"{ref}: the Hub has no revision '{revision}' of it"
                        + (" (no parquet conversion)" if revision == PARQUET_BRANCH else "")) from None
    except (LocalEntryNotFoundError, OSError) as exc:  # offline, no network, or the Hub failed
        why = "offline mode is on (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE)" if hub_offline() else \
            f"the Hub cannot be reached ({type(exc.__cause__ or exc).__name__})"
        raise DataError(f"{ref}: {why} and it is not in the local Hugging Face cache. Get a local copy on a "
                        f"machine with internet: hf download {repo} --repo-type dataset --revision {revision} "
                        f"--include {' '.join(repr(c + '/*') for c in configs)} --local-dir DIR; copy DIR here "
                        "and write hf:DIR") from None


def _hub_configs(repo: str, revision: str) -> str:
    """The configs on the Hub (top-level folders of the revision), for an error message."""
    if hub_offline():
        return "unknown offline"
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFolder

    try:
        tree = HfApi().list_repo_tree(repo, repo_type="dataset", revision=revision)
        return ", ".join(sorted(e.path for e in tree if isinstance(e, RepoFolder))) or "none"
    except OSError as exc:
        return f"not listed ({type(exc).__name__})"


def locate(ref: HfRef, candidates: list[str]) -> Located:
    """The folder holding one config's split files, local or downloaded; DataError when there is none."""
    if ref.local:
        root = Path(ref.source)
        if not root.is_dir():
            raise DataError(f"{ref}: local copy {root} does not exist")
        origin = f"local copy {root}"
    else:
        revision = ref.revision or PARQUET_BRANCH
        root = _hub_snapshot(ref.source, revision, tuple(candidates))
        origin = f"Hugging Face Hub {ref.source}@{revision} (commit {root.name})"
    for config in candidates:
        if (root / config).is_dir() and config.lower() not in SPLIT_WORDS:
            return Located(root / config, config, origin)
    tried = " or ".join(f"'{c}'" for c in candidates)
    if ref.local and _is_single_config(root):
        if ref.config:
            raise DataError(f"{ref}: {root} holds a single dataset (splits at its top), not config {tried}; "
                            f"drop ':{ref.config}'")
        return Located(root, None, origin)
    if ref.local:
        known = ", ".join(sorted(d.name for d in root.iterdir() if d.is_dir() and split_files(d))) or "none"
    else:
        known = _hub_configs(ref.source, ref.revision or PARQUET_BRANCH)
    raise DataError(f"{ref}: no config {tried} (configs: {known}); name one as "
                    f"{HfRef(ref.source, ref.local, ref.revision, 'CONFIG')} or map each language to its own")
