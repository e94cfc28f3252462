"""MAD-X (Pfeiffer et al. 2020) and the other adapter methods, with the `adapters` library:
language adapters trained by masked-language modelling (or released ones, loaded), a task
adapter of any method the library names stacked on the source language adapter, zero-shot
transfer by swapping in the target's language adapter; method ``adapter`` trains the task
adapter alone.

The base model is always frozen; only adapters (and the task head) train. The order
of calls matters: ``train_adapter(task)`` resets the active setup to the task adapter
alone, so the ``Stack(language, task)`` must be set *after* it, or the language
adapter silently drops out of the forward pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

import torch
from adapters import AdapterConfig, AutoAdapterModel, SeqBnConfig, SeqBnInvConfig
from adapters.composition import Stack
from torch.utils.data import DataLoader
from transformers import (
    AutoTokenizer,
    DataCollatorForLanguageModeling,
    get_linear_schedule_with_warmup,
)

from engine.data import released
from engine.data.refs import DataError
from engine.data.text import read_text
from engine.runfiles import RunFiles
from engine.spec import LangAdapterParams, LangAdapterSpec, RunSpec
from engine.store.results import RunOutput
from engine.store.telemetry import MetricWriter
from engine.tasks import TASKS
from engine.training import cpu_threads, rng
from engine.training.inputs import NO_INPUTS, RunInputs
from engine.training.loop import fused_adamw
from engine.training.loss_points import PendingPoints
from engine.training.modelzoo import minilm_dir
from engine.training.resume import StateStore
from engine.training.saving import Saving
from engine.training.train_state import LoopState, Trainables

TASK_ADAPTER = "task"


MLM_PROBABILITY = 0.15


def base_path(ref: str) -> str:
    return str(minilm_dir()) if ref == "minilm" else ref


def lang_adapter_config(params: LangAdapterParams) -> SeqBnInvConfig:
    return SeqBnInvConfig(reduction_factor=params.reduction_factor)


def base_checksum(model: torch.nn.Module) -> float:
    """Sum of |w| over every weight of the base (not an adapter's of any method, not a head's): equal
    before and after means frozen. LoRA, prefix tuning, ReFT, ... name their weights by adapter name
    (``loras.task.lora_A``), bottleneck adapters by ``adapters``."""
    names = set(getattr(getattr(model, "adapters_config", None), "adapters", {}) or {})
    total = 0.0
    for name, p in model.named_parameters():
        parts = set(name.split("."))
        if "adapter" not in name and not name.startswith("heads.") and not parts & names:
            total += float(p.detach().abs().double().sum())
    return total


def _mlm_batches(tokenizer, sentences: Iterable[Sequence[str]], params: LangAdapterParams,
                 seed: int) -> tuple[DataLoader, float]:
    """Seeded MLM batches, and the share of the text's tokens that are [UNK] for this tokenizer."""
    texts = [" ".join(words) for words in sentences]
    enc = tokenizer(texts, truncation=True, max_length=params.max_length)
    features = [{"input_ids": ids} for ids in enc["input_ids"]]
    special = set(tokenizer.all_special_ids) - {tokenizer.unk_token_id}
    words = [i for ids in enc["input_ids"] for i in ids if i not in special]
    unk_share = sum(i == tokenizer.unk_token_id for i in words) / max(len(words), 1)
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=MLM_PROBABILITY)
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(features, batch_size=params.batch_size, shuffle=True, collate_fn=collator, generator=generator)
    return loader, unk_share


def mlm_step(model, batch: dict, trainable: list, optimizer, scheduler, device: str, loop: LoopState,
             pending: PendingPoints) -> None:
    """One MLM optimizer step, counted in ``loop``, its loss queued in ``pending``."""
    batch = {k: v.to(device) for k, v in batch.items()}
    loss = model(**batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    loop.step += 1
    cpu_threads.follow(loop.step)
    pending.add(loop.step, loss, scheduler.get_last_lr()[0], int(batch["input_ids"].shape[0]))
    if pending.due(loop.step):
        pending.flush()


def train_language_adapter(spec: LangAdapterSpec, sentences: Sequence[Sequence[str]], out_dir: Path, device: str,
                           writer: MetricWriter | None = None, log: Callable[[str], None] = print,
                           store: StateStore | None = None) -> Path:
    """MLM-train an invertible language adapter on unlabelled text; the base stays frozen. With ``store``
    (a run's) it continues from the run's latest saved state and saves its own (engine.training.saving)."""
    params, lang, seed = spec.adapter, spec.language, spec.seed
    torch.manual_seed(seed)
    path = base_path(spec.model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoAdapterModel.from_pretrained(path)
    model.add_adapter(lang, config=lang_adapter_config(params))
    model.add_masked_lm_head(f"mlm_{lang}")
    model.train_adapter(lang)  # freezes everything but the adapter (and its invertible part)
    model.set_active_adapters(lang)
    model.to(device)
    loader, unk_share = _mlm_batches(tokenizer, sentences, params, seed)
    if unk_share > 0.5:  # [UNK] is never masked, so such a language adapter learns from little
        log(f"warning: {unk_share:.0%} of the {lang} text is {tokenizer.unk_token} for this tokenizer (a script its "
            f"vocabulary lacks?): the adapter learns only from the rest")
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = fused_adamw(trainable, params.lr, device)
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, params.mlm_steps)
    pending = PendingPoints(writer, params.mlm_steps, loss_name="mlm_loss", rate=False, check=False)
    objs = Trainables(model, optimizer, scheduler, None, rng.data_generators(loader))
    model.train()
    with Saving(store, objs, writer, log, pending) as saving:
        loop = saving.resume(params.mlm_steps)
        with saving.on_stop():
            while loop.step < params.mlm_steps:
                for batch in saving.batches(loader):
                    loop.batches_done += 1
                    if not bool((batch["labels"] != -100).any()):  # nothing masked: the loss would be NaN
                        loop.skipped += 1
                        continue
                    mlm_step(model, batch, trainable, optimizer, scheduler, device, loop, pending)
                    saving.step_done()
                    if loop.step >= params.mlm_steps:
                        break
                if loop.step == 0:
                    raise DataError(f"language adapter {lang}: no batch of its text has a token to mask ({unk_share:.0%} "
                                    f"of its tokens are {tokenizer.unk_token}); give a model whose vocabulary covers "
                                    f"this language (text: {spec.text})")
            pending.flush()
        seconds = saving.finish()
    if loop.skipped:
        log(f"language adapter {lang}: {loop.skipped} batch(es) skipped, nothing in them could be masked")
    log(f"language adapter {lang}: {loop.step} MLM steps in {seconds:.1f}s, last loss {pending.last_loss:.3f}")
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_adapter(str(out_dir), lang)
    return out_dir


def train_lang_adapter_run(spec: LangAdapterSpec, files: RunFiles, writer: MetricWriter | None, device: str,
                           inputs: RunInputs = NO_INPUTS, log: Callable[[str], None] = print) -> RunOutput:
    """The language-adapter trainer: read only the text its MLM steps use, train, hand back the adapter."""
    text = read_text(spec.text, spec.language, limit=spec.adapter.mlm_steps * spec.adapter.batch_size)
    path = train_language_adapter(spec, text, files.lang_adapter, device, writer, log, inputs.state)
    return RunOutput(artifacts=[("lang_adapter", str(path), spec.language)])


def task_adapter_config(spec: RunSpec):
    """The library's config of the run's task adapter: MAD-X's bottleneck at its reduction factor, or the
    method the grid named (checked against the same class before queueing, engine.grid.methods)."""
    task, leave_out = spec.task_adapter, list(spec.leave_out)
    assert task is not None  # every method but full fine-tuning trains a task adapter
    if spec.madx is not None and spec.madx.task_adapter is None:
        return SeqBnConfig(reduction_factor=spec.madx.task_reduction_factor, leave_out=leave_out)
    options = dict(task.options)
    if leave_out:
        options["leave_out"] = leave_out
    return AdapterConfig.load(task.config, **options)


def lang_adapter_paths(spec: RunSpec, languages: Sequence[str], trained: dict[str, str] | None,
                       log: Callable[[str], None] = print) -> dict[str, Path]:
    """Where each needed language adapter is: a trained one (its run's artifact) or a released one
    (engine.data.released: checked, fetched when it is a hub id not yet cached)."""
    if spec.madx is None:
        return {}
    released_ones = spec.madx.lang_adapter.pretrained
    shape = released.base_shape(spec.model)
    out: dict[str, Path] = {}
    for lang in languages:
        if lang in released_ones:
            out[lang] = released.local_copy(released_ones[lang], shape)
            log(f"language adapter {lang}: released {released_ones[lang].source} from {out[lang]}")
        elif trained and lang in trained:
            out[lang] = Path(trained[lang])
        else:
            raise RuntimeError(f"no trained language adapter for {lang}: its run has not succeeded")
    return out


def adapter_record(spec: RunSpec, paths: dict[str, Path]) -> dict[str, dict[str, str]]:
    """What each language adapter of a run was (its run_info): a trained one's folder, or a released one's
    source and the revision actually loaded (the hub commit fetched, or the directory's hash)."""
    released_ones = spec.madx.lang_adapter.pretrained if spec.madx is not None else {}
    out = {}
    for lang, path in paths.items():
        adapter = released_ones.get(lang)
        out[lang] = ({"trained": str(path)} if adapter is None else
                     {"released": adapter.source, "revision": adapter.revision if adapter.is_local else path.name,
                      "path": str(path)})
    return out


def _load_lang_adapters(model, adapters: dict[str, Path], leave_out: Sequence[int]) -> None:
    """Load each language adapter by the library (either save form); one that loads with weights missing
    would run with random ones, so that is an error."""
    for name, path in adapters.items():
        info: dict = {}
        model.load_adapter(str(path), load_as=name, with_head=False, leave_out=list(leave_out), loading_info=info)
        missing = [k for k in info.get("missing_keys", []) if f".{name}." in k]
        if missing:
            raise DataError(f"language adapter {name} from {path}: {len(missing)} weight(s) missing from its file "
                            f"(e.g. {missing[0]}): not an adapter of this model's layout")


def build_task_model(spec: RunSpec, labels: list[str], lang_adapters: dict[str, Path]):
    """Base + every needed language adapter + a fresh task adapter and the task's head (tagging or
    classification, engine.tasks), set up for training on the first source language (MAD-X) or alone
    (method adapter)."""
    model = AutoAdapterModel.from_pretrained(base_path(spec.model))
    _load_lang_adapters(model, lang_adapters, spec.leave_out)
    model.add_adapter(TASK_ADAPTER, config=task_adapter_config(spec))
    add_head = model.add_tagging_head if TASKS[spec.task].head == "token" else model.add_classification_head
    add_head(TASK_ADAPTER, num_labels=len(labels), id2label=dict(enumerate(labels)))
    model.train_adapter(TASK_ADAPTER)  # first: it resets the active setup …
    activate(model, spec.source[0] if lang_adapters else None)  # … then stack the language adapter under it
    return model


def activate(model, lang: str | None) -> None:
    """Route the forward pass through ``lang``'s language adapter and the task adapter (None: the task
    adapter alone)."""
    model.active_adapters = Stack(lang, TASK_ADAPTER) if lang is not None else TASK_ADAPTER


def load_task_model(spec: RunSpec, lang_adapters: dict[str, Path], task_adapter: Path, lang: str):
    """A trained task adapter (with its head), on ``lang``'s adapter when there is one, ready to train on."""
    model = AutoAdapterModel.from_pretrained(base_path(spec.model))
    _load_lang_adapters(model, lang_adapters, spec.leave_out)
    model.load_adapter(str(task_adapter), load_as=TASK_ADAPTER, with_head=True, leave_out=list(spec.leave_out))
    model.train_adapter(TASK_ADAPTER)
    activate(model, lang if lang in lang_adapters else None)
    return model
