"""Few-shot transfer: continue the zero-shot run's weights on K target sentences.

The K sentences are sampled with the run's seed from the target's train split, or,
where a language has none (UD Yoruba-YTB, Amharic-ATT), carved out of its test file
with evaluation on the rest. The ids of both sides are stored (``fewshot_ids``), so
a report can prove it never scored a sentence the run trained on. For MAD-X the
zero-shot task adapter and head continue with the target's language adapter stacked
under them; the base model stays frozen. With the alignment regulariser the parent
was trained aligned; the K-shot fine-tuning here is plain cross-entropy on labelled
target sentences, which need no pull towards the target.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

from transformers import DataCollatorForTokenClassification

from engine.data.catalog import task_files
from engine.data.conll import Sentence
from engine.data.fewshot import pool_split, sample_k, sentence_ids
from engine.data.labels import LabelMap
from engine.runfiles import RunFiles
from engine.spec import RunSpec
from engine.store.results import RunOutput
from engine.store.telemetry import MetricWriter
from engine.training.inputs import NO_INPUTS, PARENT_ARTIFACT, RunInputs
from engine.training.loop import speed_stats, train
from engine.training.modelzoo import load_token_classifier
from engine.training.tagging import evaluate_split, seed_everything
from engine.training.tagging_data import (
    TASKS,
    check_unknown,
    encode,
    read_split,
    relabel_sentences,
    train_loader,
)


def fewshot_split(spec: RunSpec, target: str) -> tuple[Sequence[Sentence], Sequence[Sentence], dict]:
    """(K training sentences, evaluation sentences, the ids record) for one target language."""
    assert spec.k is not None
    files = task_files(spec.task, spec.data[target], target)
    read = TASKS[spec.task].read
    split = pool_split(files)
    pool = read(files.get(split))
    ids = [f"{split}:{i}" for i in sentence_ids(pool)]
    chosen, rest = sample_k(pool, spec.k, spec.seed, ids=ids)
    train_sents = relabel_sentences([pool[i] for i in chosen], spec.labels.map)[0]
    if split == "train":
        evaluation = read(files.test, limit=spec.train.max_eval_sentences)
        eval_ids = [f"test:{i}" for i in sentence_ids(evaluation)]
    else:  # no train split: the rest of the test file is the evaluation set
        rest = rest[:spec.train.max_eval_sentences] if spec.train.max_eval_sentences else rest
        evaluation, eval_ids = [pool[i] for i in rest], [ids[i] for i in rest]
    evaluation, relabelled = relabel_sentences(evaluation, spec.labels.map)
    record = dict(language=target, k=spec.k, seed=spec.seed, train_split=split,
                  train_ids=[ids[i] for i in chosen], eval_split="test", eval_ids=eval_ids,
                  n_tags_relabelled=relabelled)
    return train_sents, evaluation, record


def train_and_evaluate(spec: RunSpec, files: RunFiles, writer: MetricWriter | None, device: str,
                       inputs: RunInputs = NO_INPUTS, log: Callable[[str], None] = print) -> RunOutput:
    """The few-shot trainer; ``inputs.parent`` is the zero-shot run's checkpoint (full) or task
    adapter directory (other methods)."""
    (target,) = spec.targets
    parent, lang_adapters = inputs.parent, inputs.lang_adapters
    if parent is None:
        raise RuntimeError(f"the zero-shot run {spec.init_from} this few-shot run continues has no "
                           f"{PARENT_ARTIFACT[spec.method]}")
    files.folder.mkdir(parents=True, exist_ok=True)
    generator = seed_everything(spec.seed)
    source_tags = [t for lang in spec.source
                   for s in read_split(spec, lang, "train", spec.train.max_train_sentences)[0] for t in s.tags]
    labels = LabelMap.from_tags(source_tags)  # the zero-shot run's label set, rebuilt the same way
    train_sents, evaluation, record = fewshot_split(spec, target)
    check_unknown(spec, target, evaluation, labels)
    log(f"few-shot {target}: {len(train_sents)} training sentences ({record['train_split']} split), "
        f"{len(evaluation)} evaluation sentences; continuing from {parent}")
    if spec.method != "full":
        from transformers import AutoTokenizer

        from engine.training.madx import base_path, lang_adapter_paths, load_task_model

        tokenizer = AutoTokenizer.from_pretrained(base_path(spec.model))
        adapters = lang_adapter_paths(spec, (target,), lang_adapters, log)
        model = load_task_model(spec, adapters, Path(parent), target)
    else:
        tokenizer, model = load_token_classifier(parent, list(labels.labels), max_length=spec.train.max_length)
    collator = DataCollatorForTokenClassification(tokenizer)
    features = encode(tokenizer, train_sents, labels, spec.train.max_length)[0].features
    loader = train_loader(features, spec.train.batch_size, collator, generator, spec.train.group_by_length)
    report = train(model, loader, spec.train, None, writer, device, log, store=inputs.state)

    output = RunOutput()
    data, n_mapped = encode(tokenizer, evaluation, labels, spec.train.max_length)
    path = files.predictions("test", target)
    scores = evaluate_split(spec.task, model, collator, data, labels, device, path)
    scores.update(n_tags_mapped_to_O=n_mapped, n_tags_relabelled=record["n_tags_relabelled"])
    output.add_scores(target, "test", scores)
    output.add_scores(target, "train", dict(k=spec.k, **speed_stats(report)))
    output.artifacts.append(("predictions", str(path), target))
    if TASKS[spec.task].confusion:
        output.artifacts.append(("confusion", str(RunFiles.confusion_of(path)), target))
    ids_path = files.fewshot_ids
    ids_path.write_text(json.dumps(record, indent=1))
    output.artifacts.append(("fewshot_ids", str(ids_path), target))
    log(f"{target} test after {spec.k}-shot: {TASKS[spec.task].dev_metric} "
        f"{scores[TASKS[spec.task].dev_metric]:.4f}")
    return output
