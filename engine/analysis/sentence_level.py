"""Sentence-level tests of a comparison table's rows, from the test predictions runs stored.

Each (language, seed) pair of a row is one stratum of engine.analysis.sentence_tests'
paired bootstrap: the system's and the baseline's predictions on the same test
sentences (checked: the same tokens and gold tags, or the pair is left out with a
warning). A stratum is resampled once and shared by the per-language row and the
pooled row. Pooled rows also say in how many languages the pooled direction holds,
from the per-language one-sided bootstrap p-values (partial conjunction, Fisher).

Imported published results have no predictions; their rows say so, and nothing here
is imported (numpy, seqeval) unless some run has predictions.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from engine.analysis.summary import holm_mark
from engine.states import MAIN_METRIC
from engine.store.reader import Reader, reading, rows_in
from engine.tasks import TASKS

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from engine.analysis.replicability import Replicability
    from engine.analysis.sentence_tests import BootstrapResult, Stratum

__all__ = ["NO_PREDICTIONS", "RowPairs", "SentenceTest", "prediction_paths", "sentence_caption",
           "sentence_level_tests"]

NO_PREDICTIONS = "no predictions: sentence-level test unavailable"
Paths = Mapping[tuple[int, str], str]  # (run id, language) -> the run's stored test predictions
Pair = tuple[str, int, int, int]  # (language, seed, system's run id, baseline's run id)


@dataclass(frozen=True)
class SentenceTest:
    result: BootstrapResult | None
    pairs: int  # (language, seed) pairs with predictions on both sides
    missing: int  # pairs without them (or on different sentences)
    note: str = ""
    p_holm: float = math.nan  # Holm over the row's family, as for p_perm
    replication: Replicability | None = None  # pooled rows: languages where the pooled side holds (Fisher)

    @property
    def mark(self) -> str:
        return holm_mark(self.p_holm)


@dataclass(frozen=True)
class RowPairs:
    """What the test needs of one comparison row (engine.analysis.comparison builds these and puts
    each result back on its row: this module knows nothing of comparison rows)."""

    task: str
    metric: str
    pooled: bool  # the row pools every language: also in how many languages its direction holds
    n_pairs: int  # the row's paired (language, seed) count, said where it cannot be tested
    pairs: Sequence[Pair]

    def in_language(self, lang: str) -> RowPairs:
        """The same row restricted to one language's pairs."""
        return replace(self, pooled=False, pairs=[p for p in self.pairs if p[0] == lang])


def prediction_paths(source: Engine | Reader, run_ids: Sequence[int], split: str = "test") -> dict[tuple[int, str], str]:
    """(run id, language) -> path of the predictions of each run's latest attempt on ``split``."""
    sql = ("SELECT a.run_id, a.language, a.path FROM artifact a JOIN run r ON r.id = a.run_id "
           "AND r.attempt_id = a.attempt_id WHERE a.kind = 'predictions' AND a.run_id IN ({in})")
    with reading(source) as reader:
        rows = rows_in(reader, sql, list(run_ids))
    return {(rid, lang): path for rid, lang, path in rows
            if lang and os.path.basename(path) == f"predictions-{lang}-{split}.txt"}  # engine.runfiles' name


class _Counts:
    """Per-sentence counts of each predictions file, read once; the sentences' identity to check pairs."""

    def __init__(self) -> None:
        self.cache: dict[tuple[str, str], tuple[int, object] | str] = {}

    def get(self, path: str, task: str) -> tuple[int, object] | str:
        key = (path, task)
        if key not in self.cache:
            self.cache[key] = self._read(path, task)
        return self.cache[key]

    @staticmethod
    def _read(path: str, task: str) -> tuple[int, object] | str:
        """(identity of the units and their gold labels, per-unit counts) as the task table says to count."""
        from engine.analysis.sentence_tests import unit_counts
        from engine.data.conll import ConllError
        from engine.data.formats import read_predictions

        entry = TASKS[task]
        try:
            units, gold, pred = read_predictions(entry, path)
            counts = unit_counts(entry.counts, gold, pred, entry.labels)  # a label outside the task's set: ValueError
        except FileNotFoundError:
            return f"predictions file {path} is missing"
        except (OSError, ConllError, ValueError, UnicodeDecodeError) as exc:  # a directory, no permission, ...
            return f"predictions file {path} is unreadable: {exc}"
        if entry.head == "token":
            return hash((tuple(map(tuple, units)), tuple(map(tuple, gold)))), counts
        return hash(tuple(gold)), counts


def sentence_level_tests(rows: Sequence[RowPairs], paths: Paths, *, resamples: int = 10_000,
                         seed: int = 0) -> tuple[list[SentenceTest], list[str]]:
    """One ``SentenceTest`` per row, in order (or the reason there is none), and the warnings."""
    if not paths:
        return [SentenceTest(None, 0, r.n_pairs, NO_PREDICTIONS) for r in rows], []
    from engine.analysis.replicability import replicability
    from engine.analysis.sentence_tests import combine, resample_stratum
    from engine.analysis.stats import holm

    counts, strata, warnings = _Counts(), {}, []

    def stratum(row: RowPairs, lang: str, seed_: int, ra: int, rb: int) -> Stratum | None:
        pa, pb = paths.get((ra, lang)), paths.get((rb, lang))
        if pa is None or pb is None:
            return None
        key = (pa, pb)
        if key not in strata:
            a, b = counts.get(pa, row.task), counts.get(pb, row.task)
            for got in (a, b):
                if isinstance(got, str):
                    warnings.append(got)
            if isinstance(a, str) or isinstance(b, str):
                strata[key] = None
            elif a[0] != b[0]:
                warnings.append(f"runs {ra} and {rb} ({lang}, seed {seed_}) were evaluated on different test "
                                f"sentences: left out of the sentence-level test")
                strata[key] = None
            else:
                strata[key] = resample_stratum((lang, seed_), a[1], b[1], resamples=resamples, seed=seed,
                                               counts=TASKS[row.task].counts)
        return strata[key]

    def test(row: RowPairs, direction: int = 0) -> SentenceTest:
        if row.metric != MAIN_METRIC.get(row.task):
            return SentenceTest(None, 0, row.n_pairs, f"sentence-level test covers {MAIN_METRIC.get(row.task)}"
                                f" only, not {row.metric}")
        got = [s for key in row.pairs if (s := stratum(row, *key)) is not None]
        if not got:
            return SentenceTest(None, 0, len(row.pairs), NO_PREDICTIONS)
        missing = len(row.pairs) - len(got)
        note = f"{missing} pair(s) without predictions left out" if missing else ""
        return SentenceTest(combine(got, seed=seed, direction=direction), len(got), missing, note)

    out = []
    for row in rows:
        sent = test(row)
        if row.pooled and sent.result is not None:
            side = sent.result.side
            per_lang = [test(row.in_language(lang), direction=side) for lang in sorted({p[0] for p in row.pairs})]
            pvals = [t.result.p_one_sided for t in per_lang if t.result is not None]
            sent = replace(sent, replication=replicability(pvals, method="fisher") if pvals else None)
        out.append(sent)
    for pooled in (True, False):
        family = [i for i, (r, t) in enumerate(zip(rows, out)) if r.pooled == pooled and t.result]
        for i, p in zip(family, holm([out[i].result.p for i in family])):
            out[i] = replace(out[i], p_holm=p)
    return out, list(dict.fromkeys(warnings))


def _metric_notes(tasks: Sequence[str]) -> str:
    """How each task's main metric is computed from resampled units; NER and POS said as they always were."""
    if set(tasks) <= {"ner", "pos"}:
        return "corpus-level strict-IOB2 F1 (seqeval's counts) for NER, token accuracy for POS"
    return ", ".join(f"{TASKS[t].metric_note} for {TASKS[t].title}" for t in dict.fromkeys(tasks) if t in TASKS)


def _units(tasks: Sequence[str]) -> str:
    units = dict.fromkeys(TASKS[t].unit for t in tasks if t in TASKS) or {"sentence": None}
    return " or ".join(f"{u}s" for u in units)


def sentence_caption(tests: Sequence[SentenceTest | None], resamples: int, seed: int,
                     tasks: Sequence[str] = ("ner", "pos")) -> str:
    if not any(t is not None and t.result is not None for t in tests):
        return (f" Sentence-level test: {NO_PREDICTIONS} (these runs stored no test predictions; imported results "
                f"never have them).")
    return (f" Δ_sent [95% CI], p_boot: paired bootstrap over test {_units(tasks)} (Koehn 2004; Dror et al. 2018), "
            f"{resamples:,} resamples, seed {seed}, each (language, seed) pair resampled on its own and averaged "
            f"with equal weight; {_metric_notes(tasks)}; "
            f"p_boot two-sided from the centred resamples, † / ‡ after Holm over the row's family. k_s/N (pooled "
            f"rows): languages in which the pooled direction holds, partial conjunction of the per-language "
            f"one-sided bootstrap p-values (Fisher combination, α = 0.05). Pairs without stored predictions on both "
            f"sides are left out.")
