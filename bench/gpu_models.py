"""bench/gpu.py's models and its one-variant step measurement (run in a child process each, so
peak memory is the variant's own).

The models are random-init encoders of the real sizes, saved as local model directories the
engine loads like any checkpoint: an XLM-R-base config with its 250 002-token vocabulary
(278 M parameters), an mBERT-base config (119 547 tokens, 178 M). Compute and memory do not
depend on the weights' values, so they cost what the real ones cost; a BPE tokenizer trained
on the English training text stands in for their SentencePiece / WordPiece tokenizers (its ids
index the full-size embedding tables). ``tiny`` versions let the script rehearse on a CPU.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path

SIZES = {  # name -> (config class, vocabulary, hidden, layers, heads, FFN, positions, token types)
    "xlmr-base": ("XLMRobertaConfig", 250_002, 768, 12, 12, 3072, 514, 1),
    "mbert-base": ("BertConfig", 119_547, 768, 12, 12, 3072, 512, 2),
    "xlmr-tiny": ("XLMRobertaConfig", 8_000, 64, 2, 2, 128, 514, 1),
    "mbert-tiny": ("BertConfig", 8_000, 64, 2, 2, 128, 512, 2),
}


def sentences(n: int):
    """Real MasakhaNER English sentences (``$XLTUI_DATA``)."""
    from engine.data.catalog import data_root
    from engine.data.conll import read_conll

    return read_conll(data_root() / "ner/en/train.txt", limit=n)


def model_dir(name: str, root: Path) -> Path:
    """The random-init model ``name`` saved under ``root`` (once: later calls reuse it)."""
    import torch
    import transformers

    from engine.training.modelzoo import train_tiny_tokenizer

    out = root / name
    if (out / "config.json").exists():
        return out
    cls, vocab, hidden, layers, heads, ffn, positions, types = SIZES[name]
    tokenizer = train_tiny_tokenizer([s.tokens for s in sentences(20_000)], vocab_size=min(vocab, 30_000))
    ids = dict(pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
               eos_token_id=tokenizer.eos_token_id)
    config = getattr(transformers, cls)(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                                        num_attention_heads=heads, intermediate_size=ffn,
                                        max_position_embeddings=positions, type_vocab_size=types, **ids)
    torch.manual_seed(0)
    model = transformers.AutoModelForMaskedLM.from_config(config)  # MLM head too: MAD-X trains language adapters
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def language_adapter(model: str | Path, out: Path, device: str) -> Path:
    """An English language adapter for the MAD-X variant (one MLM step: its training does not change a
    task step's cost), trained by the caller so its MLM head never counts towards a variant's peak."""
    from engine.spec import LangAdapterParams, LangAdapterSpec
    from engine.training.madx import train_language_adapter

    if (out / "en").exists():
        return out / "en"
    spec = LangAdapterSpec(model=str(model), language="en", text="bench", seed=1,
                           adapter=LangAdapterParams(mlm_steps=1, batch_size=8, max_length=32))
    return train_language_adapter(spec, [s.tokens for s in sentences(8)], out / "en", device, log=lambda _: None)


def build(model: str | Path, method: str, batch_size: int, max_length: int, adapter: Path | None):
    """(model in training mode, one padded batch of real sentences) as the engine builds them;
    ``model``: a preset, a local directory or a hub id."""
    import torch
    from transformers import AutoTokenizer, DataCollatorForTokenClassification

    from bench.fixtures import adapter_run
    from engine.data.labels import LabelMap
    from engine.training.madx import base_path, build_task_model
    from engine.training.modelzoo import load_token_classifier
    from engine.training.tagging_data import encode

    batch_sentences = sentences(batch_size)
    labels = LabelMap.from_tags(t for s in batch_sentences for t in s.tags)
    if method == "full":
        tokenizer, net = load_token_classifier(str(model), list(labels.labels), max_length=max_length)
    else:
        assert adapter is not None
        tokenizer = AutoTokenizer.from_pretrained(base_path(str(model)))
        net = build_task_model(adapter_run(str(model)), list(labels.labels), {"en": adapter})
    collate = DataCollatorForTokenClassification(tokenizer, padding="max_length", max_length=max_length)
    batch = collate(encode(tokenizer, batch_sentences, labels, max_length)[0].features)
    torch.manual_seed(0)
    return net.train(), batch


def measure(model: str | Path, method: str, precision: str, device: str, batch_size: int, max_length: int,
            steps: int, adapter: Path | None, warmup: int = 3) -> dict:
    """One variant's median step (forward, backward, fused AdamW; fp16 with a GradScaler, as the
    engine's loop does), its parameters and its peak memory."""
    import torch

    from engine.spec import TrainParams
    from engine.training.loop import AUTOCAST, make_optimizer

    net, batch = build(model, method, batch_size, max_length, adapter)
    cuda = device.startswith("cuda")
    net.to(device)
    batch = {k: v.to(device) for k, v in batch.items()}
    optimizer = make_optimizer(net, TrainParams(lr=1e-4))
    dtype = AUTOCAST[precision]
    scaler = torch.amp.GradScaler("cuda", enabled=cuda and precision == "fp16")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(steps + warmup):  # warm-up steps: kernels chosen, allocator settled
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device_type=device.split(":")[0], dtype=dtype, enabled=dtype is not None):
            loss = net(**batch).loss
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    params = list(net.parameters())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return dict(step_s=sorted(times)[len(times) // 2], n_params=sum(p.numel() for p in params),
                trainable=sum(p.numel() for p in params if p.requires_grad),
                tokens=int(batch["input_ids"].numel()), real_tokens=int((batch["attention_mask"] > 0).sum()),
                peak_allocated=int(torch.cuda.max_memory_allocated()) if cuda else None,
                peak_reserved=int(torch.cuda.max_memory_reserved()) if cuda else None, rss=rss,
                gpu=torch.cuda.get_device_name(torch.device(device)) if cuda else None,
                loss_finite=bool(torch.isfinite(loss.detach()).item()))
