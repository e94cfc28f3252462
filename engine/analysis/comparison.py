"""Table C of the paper as plain data: one system vs each baseline, paired on
(task, setting, language, seed), with permutation and t tests, effect sizes, Holm
adjustment, a caption that defines every column, and plain-language warnings.

Pooling the pairs of all languages is the default because with 3 seeds a
per-language sign-flip test can never go below p = 0.25; per-language rows are
available and carry the smallest p their design allows (p_min).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.analysis.scores import Score, ScoreSet
from engine.analysis.summary import ALPHA
from engine.analysis.tables import display_scale, setting_order
from engine.states import MAIN_METRIC

if TYPE_CHECKING:
    from engine.analysis.stats import PairedComparison

POOLED = "pooled"


@dataclass(frozen=True)
class ComparisonRow:
    task: str
    metric: str
    setting: str
    system: str
    baseline: str
    language: str  # POOLED or a language code
    result: PairedComparison
    mean_a: float  # over the paired runs only
    mean_b: float
    p_holm: float = math.nan
    mark: str = ""  # † p_holm < 0.05, ‡ p_holm < 0.01

    @property
    def scale(self) -> float:
        return display_scale(self.metric)


@dataclass
class ComparisonTable:
    """Table C: one system vs each baseline per task × setting (pooled; per language on request)."""

    system: str
    baselines: list[str]
    split: str
    rows: list[ComparisonRow]
    per_language: bool = False
    caption: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.system} vs {', '.join(self.baselines)}: paired tests"


# ----------------------------------------------------------------------------- Table C


def _pairs(scores: list[Score], system: str, language: str | None) -> dict:
    """(language, seed) -> value, or seed -> value for one language."""
    if language is None:
        return {(s.language, s.seed): s.value for s in scores if s.system == system}
    return {s.seed: s.value for s in scores if s.system == system and s.language == language}


def comparison_table(data: ScoreSet, system: str, baselines: Sequence[str], *, metric: str | None = None,
                     per_language: bool = False, n_resamples: int = 100_000, seed: int = 0) -> ComparisonTable:
    """``system`` vs each baseline, pairs matched on (task, setting, language, seed)."""
    table = ComparisonTable(system, list(baselines), data.split, [], per_language)
    pooled: list[ComparisonRow] = []
    by_lang: list[ComparisonRow] = []
    for task in sorted({s.task for s in data.scores if s.system == system}):
        m = metric or MAIN_METRIC.get(task, "f1")
        task_scores = [s for s in data.scores if s.task == task and s.metric == m]
        for setting in sorted({s.setting for s in task_scores if s.system == system}, key=setting_order):
            scores = [s for s in task_scores if s.setting == setting]
            for base in baselines:
                if not any(s.system == base for s in scores):
                    table.warnings.append(f"{base} has no {task} {m} scores in setting {setting}: "
                                          f"not compared with {system}")
                    continue
                a, b = _pairs(scores, system, None), _pairs(scores, base, None)
                pooled.append(_row(task, m, setting, system, base, POOLED, a, b, n_resamples, seed))
                table.warnings += _unpaired_warning(pooled[-1], a, b)
                if per_language:
                    for lang in sorted({k[0] for k in a} | {k[0] for k in b}):
                        by_lang.append(_row(task, m, setting, system, base, lang, _pairs(scores, system, lang),
                                            _pairs(scores, base, lang), n_resamples, seed))
    table.rows = _adjusted(pooled) + _adjusted(by_lang)
    table.warnings += _design_warnings(table.rows)
    table.caption = _comparison_caption(table, len(pooled), len(by_lang))
    return table


def _row(task: str, metric: str, setting: str, system: str, base: str, language: str, a: dict, b: dict,
         n_resamples: int, seed: int) -> ComparisonRow:
    from engine.analysis.stats import compare, pair_up  # numpy: only when there is something to test

    result = compare(a, b, n_resamples=n_resamples, seed=seed)
    p = pair_up(a, b)
    mean = lambda x: float(x.mean()) if len(x) else math.nan
    return ComparisonRow(task, metric, setting, system, base, language, result, mean(p.a), mean(p.b))


def _adjusted(rows: list[ComparisonRow]) -> list[ComparisonRow]:
    """Holm over the permutation p-values of one family (pooled rows, or per-language rows)."""
    from engine.analysis.stats import holm

    adjusted = holm([r.result.permutation.p for r in rows])
    out = []
    for r, p in zip(rows, adjusted):
        mark = "‡" if p < 0.01 else "†" if p < ALPHA else ""
        out.append(ComparisonRow(r.task, r.metric, r.setting, r.system, r.baseline, r.language, r.result,
                                 r.mean_a, r.mean_b, p, mark))
    return out


def _unpaired_warning(row: ComparisonRow, a: dict, b: dict) -> list[str]:
    from engine.analysis.stats import pair_up

    p = pair_up(a, b)
    if not p.n_dropped:
        return []
    per_lang: dict[str, list[str]] = defaultdict(list)
    for name, keys in ((row.system, p.only_a), (row.baseline, p.only_b)):
        counts: dict[str, int] = defaultdict(int)
        for lang, _ in keys:
            counts[lang] += 1
        for lang, n in sorted(counts.items()):
            per_lang[lang].append(f"{n} only {name}")
    detail = "; ".join(f"{lang}: {', '.join(v)}" for lang, v in sorted(per_lang.items()))
    return [f"{row.system} vs {row.baseline} ({row.task}, {row.setting}): unpaired comparison — "
            f"{p.n_dropped} run(s) without a partner on the same language and seed were dropped "
            f"({p.n_pairs} pairs kept; {detail})"]


def _design_warnings(rows: list[ComparisonRow]) -> list[str]:
    out = []
    for r in rows:
        res = r.result
        where = f"{r.system} vs {r.baseline} ({r.task}, {r.setting}, {r.language})"
        if res.n_pairs == 0:
            out.append(f"{where}: no paired runs, nothing to test")
        elif r.language == POOLED and res.permutation.p_min > ALPHA:
            out.append(f"{where}: with {res.n_pairs} pairs p cannot go below {res.permutation.p_min:.3g}: "
                       f"not significant at {ALPHA:g} by design")
        elif res.t_test.note:
            out.append(f"{where}: t-test: {res.t_test.note}")
    lang_rows = [r for r in rows if r.language != POOLED and r.result.n_pairs]
    blocked = [r for r in lang_rows if r.result.permutation.p_min > ALPHA]
    if blocked:
        ns = sorted({r.result.n_pairs for r in blocked})
        out.append(f"{len(blocked)} of {len(lang_rows)} per-language tests cannot reach p < {ALPHA:g} by design "
                   f"(with {', '.join(map(str, ns))} pairs the smallest possible p is "
                   f"{', '.join(f'{2.0 ** (1 - n):.3g}' for n in ns)}); read their p_min column")
    return out


def _comparison_caption(t: ComparisonTable, n_pooled: int, n_lang: int) -> str:
    text = (f"{t.system} vs each baseline on the {t.split} split. Pairs are matched on (task, setting, language, "
            f"seed); a run without a partner is dropped (n_pairs kept, n_dropped). Rows marked '{POOLED}' pool the "
            f"pairs of all languages into one test (each language × seed pair is one unit): with 3 seeds a "
            f"per-language test can never go below p = 0.25. Δ: mean difference {t.system} − baseline over the "
            f"pairs (percentage points for F1/accuracy) with its 95% t-interval. p_perm: two-sided paired "
            f"permutation (sign-flip) test, exact over all 2^n sign vectors up to 20 pairs, else Monte Carlo "
            f"(n resamples, p = (b+1)/(n+1)); p_t: paired t-test. Cohen's d_z = mean(diff) / sd(diff) (primary "
            f"effect size for paired runs); d_av = mean diff / average SD of the two systems. p_Holm: Holm-adjusted "
            f"p_perm over the {n_pooled} pooled comparisons of this table")
    if n_lang:
        text += f" (per-language rows: over their own {n_lang} tests; p_min is the smallest p their design allows)"
    return text + "; † p_Holm < 0.05, ‡ p_Holm < 0.01."
