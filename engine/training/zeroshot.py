"""The zero-shot trainer of every task and method: train on the source language(s), pick the
best epoch on source dev, evaluate that checkpoint on every target's test set.

What differs between tasks comes from the task table (engine.tasks) through the head
(engine.training.heads): tagging tasks label each word on its first subword (NER scored
with seqeval strict IOB2 entity F1, POS with word accuracy), sentence tasks label each
text (sentiment: weighted F1). Predictions are written to files (artifacts) so a stored
score can always be re-checked against them, and a run_info.json records what exactly
ran (files and their hashes, precision, counts).
"""

from __future__ import annotations

import json
import platform
import random
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import transformers
from torch.utils.data import DataLoader

from engine.data.catalog import task_files
from engine.runfiles import RunFiles
from engine.spec import RunSpec
from engine.store.results import RunOutput, file_sha256
from engine.store.telemetry import MetricWriter
from engine.tasks import TASKS
from engine.training import rng
from engine.training.alignment import Router
from engine.training.heads import evaluate_split, head_of
from engine.training.inputs import NO_INPUTS, RunInputs
from engine.training.loop import speed_stats, train
from engine.training.tagging_data import train_loader

__all__ = ["evaluate_split", "load_method", "seed_everything", "train_and_evaluate"]  # evaluate_split: heads'


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def run_info(spec: RunSpec, report, counts: dict[str, int], labels, device: str) -> dict:
    """What exactly ran: data files with hashes, split substitutions, precision, versions."""
    files = {}
    for lang in spec.languages:
        resolved = task_files(spec.task, spec.data[lang], lang)
        files[lang] = {s: {"path": str(p), "sha256": file_sha256(p)} for s in ("train", "dev", "test")
                       if (p := resolved.get(s)) is not None}
        if resolved.note:
            files[lang]["note"] = resolved.note
    return dict(spec_hash=spec.spec_hash(), device=device, gpu=report.gpu_name, precision=report.precision,
                speed=dict(tokens_per_s=report.tokens_per_s, n_params=report.n_params, mfu=report.mfu),
                batches=dict(batch_size=spec.train.batch_size, grad_accumulation=report.grad_accumulation,
                             micro_batch=-(-spec.train.batch_size // report.grad_accumulation)),
                labels=list(labels.labels), counts=counts, data=files, torch=torch.__version__, transformers=transformers.__version__,
                python=platform.python_version())


class LanguageBatches:
    """Multi-source MAD-X: homogeneous batches per source language in a seeded interleave,
    each routed through its own language adapter before the loop sees it."""

    def __init__(self, loaders: dict[str, DataLoader], use_language: Callable[[str], None], seed: int):
        self.loaders, self.use_language, self.rng = loaders, use_language, random.Random(seed)

    def __len__(self) -> int:
        return sum(len(loader) for loader in self.loaders.values())

    def generators(self) -> list[rng.Generator]:
        """What decides the batch order (engine.training.rng: saved with a run's state)."""
        return [self.rng, *(g for loader in self.loaders.values() for g in rng.data_generators(loader))]

    def __iter__(self):
        order = [lang for lang, loader in self.loaders.items() for _ in range(len(loader))]
        self.rng.shuffle(order)
        iterators = {lang: iter(loader) for lang, loader in self.loaders.items()}
        for lang in order:
            self.use_language(lang)
            yield next(iterators[lang])


def load_method(spec: RunSpec, labels, tokenizer_text, lang_adapters: dict[str, str] | None,
                log: Callable[[str], None] = print):
    """(tokenizer, model, router, language adapters' record) for full fine-tuning or an adapter method; the
    router switches language adapters (MAD-X) and does nothing otherwise."""
    if spec.method == "full":
        tokenizer, model = head_of(spec).load(spec.model, labels, spec.train.max_length, tokenizer_text)
        return tokenizer, model, Router(lambda _lang: None), {}
    from transformers import AutoTokenizer

    from engine.training.madx import activate, adapter_record, base_path, build_task_model, lang_adapter_paths

    tokenizer = AutoTokenizer.from_pretrained(base_path(spec.model))
    adapters = lang_adapter_paths(spec, spec.languages, lang_adapters, log)
    model = build_task_model(spec, list(labels.labels), adapters)
    if spec.madx is None:
        return tokenizer, model, Router(lambda _lang: None), {}
    return (tokenizer, model, Router(lambda lang: activate(model, lang), current=spec.source[0]),
            adapter_record(spec, adapters))


@dataclass
class SourceData:
    """The source side of a run: sentences (or texts) per language and how many tags the label map changed."""

    train: dict[str, list] = field(default_factory=dict)
    dev: dict[str, list] = field(default_factory=dict)
    relabelled: int = 0

    @classmethod
    def read(cls, spec: RunSpec) -> SourceData:
        data, head = cls(), head_of(spec)
        for lang in spec.source:
            data.train[lang], n_train = head.read(spec, lang, "train", spec.train.max_train_sentences)
            data.dev[lang], n_dev = head.read(spec, lang, "dev", spec.train.max_eval_sentences)
            data.relabelled += n_train + n_dev
        return data


def train_and_evaluate(spec: RunSpec, files: RunFiles, writer: MetricWriter | None, device: str,
                       inputs: RunInputs = NO_INPUTS, log: Callable[[str], None] = print) -> RunOutput:
    """The zero-shot trainer: train on the source(s), select on source dev, test every target."""
    params, kind, head = spec.train, TASKS[spec.task], head_of(spec)
    files.folder.mkdir(parents=True, exist_ok=True)
    generator = seed_everything(spec.seed)
    source = SourceData.read(spec)
    train_sents = [s for ss in source.train.values() for s in ss]
    dev_sents = [s for ss in source.dev.values() for s in ss]
    tests = {lang: head.read(spec, lang, "test", params.max_eval_sentences) for lang in spec.targets}
    labels = head.labels(spec, train_sents)
    for lang, (sentences, _) in tests.items():
        head.check(spec, lang, sentences, labels)  # before an hour of training, not after
    log(f"{spec.task}: {len(train_sents)} train / {len(dev_sents)} dev {kind.unit}s; labels {list(labels.labels)}"
        + (f"; labels.map changed {source.relabelled} source tags" if spec.labels.map else ""))

    tokenizer_text = head.words(train_sents) + [w for ss, _ in tests.values() for w in head.words(ss)]
    tokenizer, model, router, adapters = load_method(spec, labels, tokenizer_text, inputs.lang_adapters, log)
    collator = head.collator(tokenizer)

    def loader_of(sentences: Sequence) -> DataLoader:
        features = head.encode(tokenizer, sentences, labels, params.max_length)[0].features
        return train_loader(features, params.batch_size, collator, generator, params.group_by_length)

    dev_parts = {lang: head.encode(tokenizer, ss, labels, params.max_length)[0] for lang, ss in source.dev.items()}
    if spec.method == "madx" and len(spec.source) > 1:
        loader = LanguageBatches({lang: loader_of(ss) for lang, ss in source.train.items()}, router, spec.seed)
    else:
        loader = loader_of(train_sents)

    def dev_score() -> float:
        """Source dev score; with several sources, the mean over languages, each through its adapter."""
        total = 0.0
        for lang, part in dev_parts.items():
            router(lang)
            total += evaluate_split(spec.task, model, collator, part, labels, device)[kind.main_metric]
        router(spec.source[0])
        return total / len(dev_parts)

    aligner = None
    if spec.align is not None:
        from engine.training.alignment import Aligner

        aligner = Aligner(tokenizer, spec, router, log)
    report = train(model, loader, params, dev_score, writer, device, log, regulariser=aligner,
                   weight=spec.align.weight if spec.align else 0.0, store=inputs.state)

    output = RunOutput()
    source_tag = "+".join(spec.source)
    router(spec.source[0])
    dev_path = files.predictions("dev")
    # the reported dev score pools every source's dev sentences (model selection averaged per language)
    dev_data = dev_parts[spec.source[0]] if len(dev_parts) == 1 else head.encode(tokenizer, dev_sents, labels,
                                                                                  params.max_length)[0]
    output.add_scores(source_tag, "dev", evaluate_split(spec.task, model, collator, dev_data, labels, device, dev_path))
    output.artifacts.append(("predictions", str(dev_path), source_tag))
    train_stats = dict(best_epoch=report.best_epoch, epochs_run=report.epochs_run, **speed_stats(report),
                       n_tags_relabelled=source.relabelled)
    output.add_scores(source_tag, "train", train_stats)
    counts = dict(train_sentences=len(train_sents), dev_sentences=len(dev_sents))
    for lang, (sentences, relabelled) in tests.items():
        router(lang)  # MAD-X zero-shot: the target's language adapter under the same task adapter
        data, n_mapped = head.encode(tokenizer, sentences, labels, params.max_length)
        path = files.predictions("test", lang)
        scores = evaluate_split(spec.task, model, collator, data, labels, device, path)
        scores.update(n_tags_mapped_to_O=n_mapped, n_tags_relabelled=relabelled)
        counts[f"{lang}_test_sentences"] = len(sentences)
        output.add_scores(lang, "test", scores)
        output.artifacts.append(("predictions", str(path), lang))
        if kind.confusion:
            output.artifacts.append(("confusion", str(RunFiles.confusion_of(path)), lang))
        log(f"{lang} test: {kind.main_metric} {scores[kind.main_metric]:.4f}")
    save_trained(spec, model, tokenizer, files, output)
    info = files.run_info
    info.write_text(json.dumps(dict(run_info(spec, report, counts, labels, device), lang_adapters=adapters), indent=1))
    output.artifacts.append(("run_info", str(info), None))
    return output


def save_trained(spec: RunSpec, model, tokenizer, files: RunFiles, output: RunOutput) -> None:
    """The task adapter with its head (adapter methods) or the whole checkpoint: what few-shot runs continue from."""
    if spec.method != "full":
        from engine.training.madx import TASK_ADAPTER

        model.save_adapter(str(files.task_adapter), TASK_ADAPTER)
        output.artifacts.append(("task_adapter", str(files.task_adapter), None))
    else:
        checkpoint = files.checkpoint
        model.save_pretrained(checkpoint)
        tokenizer.save_pretrained(checkpoint)
        output.artifacts.append(("checkpoint", str(checkpoint), None))
