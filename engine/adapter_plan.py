"""Which language adapters a MAD-X run needs, and the unlabelled text each one trains on.

Pure and light (no torch): the queue calls this at enqueue time to create one
language-adapter run per (model, language, adapter config, MLM steps, seed, text),
shared by every run and study that needs the same one.
"""

from __future__ import annotations

from pathlib import Path

from engine.conll import read_conll
from engine.conllu import read_conllu
from engine.datapaths import DataError, task_files
from engine.spec import LangAdapterSpec, RunSpec

ADAPTER_STUDY = "_lang-adapters"  # the internal study that holds shared language-adapter runs
TEXT_SPLITS = ("train", "dev")
HF_TEXT_LINES = 200_000  # lines read from a Hugging Face text dataset when the caller sets no limit  # never the test split: adapting on evaluation text would leak it


def text_ref(spec: RunSpec, lang: str) -> str:
    """``file:<path>`` when the grid names a text file, else ``<task>:<data ref>``."""
    assert spec.madx is not None
    given = spec.madx.lang_adapter.text.get(lang)  # the grid already made it 'file:<abs>' or '<task>:<data>'
    return f"{spec.task}:{spec.data[lang]}" if given is None else given


def lang_adapter_specs(spec: RunSpec) -> dict[str, LangAdapterSpec]:
    """language -> the adapter spec it needs, for every source and target language of a MAD-X run."""
    if spec.madx is None:
        return {}
    params = spec.madx.lang_adapter.model_copy(update={"text": {}})
    return {lang: LangAdapterSpec(model=spec.model, language=lang, text=text_ref(spec, lang), adapter=params,
                                  seed=spec.seed) for lang in spec.languages}


def read_text(ref: str, lang: str, hint: str | None = None, limit: int | None = None) -> list[list[str]]:
    """The sentences (as word lists) a language adapter (or the aligner) trains on; DataError when none.

    ``limit`` caps what is read from a Hugging Face text dataset (``hf:...``, e.g. Wikipedia).
    """
    kind, _, rest = ref.partition(":")
    if kind == "hf":
        from engine.hf_text import hf_text

        sentences = hf_text(ref, lang, limit or HF_TEXT_LINES)
    elif kind == "file":
        path = Path(rest)
        if not path.is_file():
            raise DataError(f"language adapter text for '{lang}': no file {path}")
        lines = [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
        sentences = [words for words in lines if words]
    elif kind in ("ner", "pos"):
        files = task_files(kind, rest, lang)
        reader = read_conll if kind == "ner" else read_conllu
        sentences = [list(s.tokens) for split in TEXT_SPLITS if (p := files.get(split)) is not None
                     for s in reader(p)]
    else:
        raise DataError(f"unlabelled text '{ref}': expected a file path, '<task>:<data>' or 'hf:<dataset>'")
    if not sentences:
        hint = hint or f"give models[].lang_adapter.text: {{{lang}: FILE}}"
        raise DataError(f"unlabelled text for '{lang}': {ref} has no train or dev text (its test split is "
                        f"never used); {hint}")
    return sentences
