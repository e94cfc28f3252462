"""Few-shot transfer: continue the zero-shot run's weights on K target sentences (sentence
classification: K texts of every class).

The K are sampled with the run's seed from the target's train split, or the split the
grid names as its pool (AfriSenti's Oromo and Tigrinya have no training tweets), or,
for tagging tasks where a language has none (UD Yoruba-YTB, Amharic-ATT), carved out of
its test file with evaluation on the rest. The ids of both sides are stored (``fewshot_ids``), so
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

from engine.data.catalog import task_files
from engine.data.fewshot import pool_split
from engine.data.formats import read_task_file
from engine.data.refs import DataError
from engine.runfiles import RunFiles
from engine.spec import RunSpec
from engine.store.results import RunOutput
from engine.store.telemetry import MetricWriter
from engine.tasks import TASKS
from engine.training.heads import evaluate_split, head_of
from engine.training.inputs import NO_INPUTS, PARENT_ARTIFACT, RunInputs
from engine.training.loop import speed_stats, train
from engine.training.tagging_data import relabel_sentences, train_loader
from engine.training.zeroshot import seed_everything


def fewshot_split(spec: RunSpec, target: str) -> tuple[Sequence, Sequence, dict]:
    """(K training sentences or texts, evaluation ones, the ids record) for one target language."""
    assert spec.k is not None
    task, head = TASKS[spec.task], head_of(spec)
    files = task_files(spec.task, spec.data[target], target)
    split = pool_split(files, spec.fewshot_pool, carve_test=task.head == "token")
    pool = read_task_file(task, files.get(split))
    ids = [f"{split}:{i}" for i in head.ids(pool)]
    try:
        chosen, rest = head.sample(pool, spec.k, spec.seed, ids, classes=task.labels)
    except ValueError as exc:
        raise DataError(f"{files.get(split)}: few-shot K={spec.k} for {target}: {exc}") from None
    mapping = spec.labels.map if task.head == "token" else {}  # a fixed label set is never relabelled
    train_sents = relabel_sentences([pool[i] for i in chosen], mapping)[0]
    if split != "test":
        evaluation = read_task_file(task, files.test, limit=spec.train.max_eval_sentences)
        eval_ids = [f"test:{i}" for i in head.ids(evaluation)]
    else:  # no train split: the rest of the test file is the evaluation set
        rest = rest[:spec.train.max_eval_sentences] if spec.train.max_eval_sentences else rest
        evaluation, eval_ids = [pool[i] for i in rest], [ids[i] for i in rest]
    evaluation, relabelled = relabel_sentences(evaluation, mapping)
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
    head, unit = head_of(spec), TASKS[spec.task].unit
    source = [s for lang in spec.source for s in head.read(spec, lang, "train", spec.train.max_train_sentences)[0]]
    labels = head.labels(spec, source)  # the zero-shot run's label set, rebuilt the same way
    train_sents, evaluation, record = fewshot_split(spec, target)
    head.check(spec, target, evaluation, labels)
    log(f"few-shot {target}: {len(train_sents)} training {unit}s ({record['train_split']} split), "
        f"{len(evaluation)} evaluation {unit}s; continuing from {parent}")
    if spec.method != "full":
        from transformers import AutoTokenizer

        from engine.training.madx import base_path, lang_adapter_paths, load_task_model

        tokenizer = AutoTokenizer.from_pretrained(base_path(spec.model))
        adapters = lang_adapter_paths(spec, (target,), lang_adapters, log)
        model = load_task_model(spec, adapters, Path(parent), target)
    else:
        tokenizer, model = head.load(parent, labels, spec.train.max_length)
    collator = head.collator(tokenizer)
    features = head.encode(tokenizer, train_sents, labels, spec.train.max_length)[0].features
    loader = train_loader(features, spec.train.batch_size, collator, generator, spec.train.group_by_length)
    report = train(model, loader, spec.train, None, writer, device, log, store=inputs.state)

    output = RunOutput()
    data, n_mapped = head.encode(tokenizer, evaluation, labels, spec.train.max_length)
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
    metric = TASKS[spec.task].main_metric
    log(f"{target} test after {spec.k}-shot: {metric} {scores[metric]:.4f}")
    return output
