"""Every file of one run attempt, named in one place (as submitit's ``JobPaths`` names a job's).

The worker creates the attempt's folder and its log; the trainers write the rest
into it; the store records them as artifacts. Nobody else spells a file name, so
a report, a test or a later session finds a run's predictions where the trainer
put them. Pure: paths only, nothing is created here.

    <artifacts>/run-<id>-<spec hash>/attempt-<n>/
        run.log                       what the run process printed (the worker's copy of its stdout/stderr)
        predictions-dev.txt           source dev predictions (CoNLL: word, gold, predicted)
        predictions-<lang>-test.txt   each target's test predictions
        predictions-...-confusion.json  POS: gold tag -> predicted tag -> count
        checkpoint/                   full fine-tuning: model + tokenizer (what few-shot runs continue)
        task_adapter/                 MAD-X: the task adapter and its head
        adapter/                      a language-adapter run's adapter
        run_info.json                 what exactly ran: data files and hashes, precision, versions
        fewshot_ids.json              a few-shot run's K training ids and its evaluation ids
    <artifacts>/workers/worker-*.log  detached workers' own logs
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ERROR_PREFIX = "xltui-run-error: "  # the run process's one-line error in run.log, which the worker quotes


@dataclass(frozen=True)
class RunFiles:
    """The files of one attempt, under ``folder``."""

    folder: Path

    @classmethod
    def of(cls, artifacts: Path, run_id: int, spec_hash: str, attempt: int) -> RunFiles:
        """Where attempt ``attempt`` (1, 2, ...) of run ``run_id`` keeps its files."""
        return cls(artifacts / f"run-{run_id}-{spec_hash}" / f"attempt-{attempt}")

    @property
    def log(self) -> Path:
        return self.folder / "run.log"

    def predictions(self, split: str, lang: str | None = None) -> Path:
        """``predictions-dev.txt`` (the pooled source dev set) or ``predictions-<lang>-test.txt``."""
        return self.folder / (f"predictions-{lang}-{split}.txt" if lang else f"predictions-{split}.txt")

    @staticmethod
    def confusion_of(predictions: Path) -> Path:
        """The confusion matrix written beside a predictions file (POS)."""
        return predictions.with_name(predictions.stem + "-confusion.json")

    @property
    def checkpoint(self) -> Path:
        return self.folder / "checkpoint"

    @property
    def task_adapter(self) -> Path:
        return self.folder / "task_adapter"

    @property
    def lang_adapter(self) -> Path:
        return self.folder / "adapter"

    @property
    def run_info(self) -> Path:
        return self.folder / "run_info.json"

    @property
    def fewshot_ids(self) -> Path:
        return self.folder / "fewshot_ids.json"


def worker_logs(artifacts: Path) -> Path:
    """The folder of detached workers' logs."""
    return artifacts / "workers"
