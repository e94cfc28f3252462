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
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from engine.analysis.scores import Score, ScoreSet
from engine.analysis.summary import ALPHA, holm_mark
from engine.analysis.tables import display_scale, setting_order
from engine.states import MAIN_METRIC

if TYPE_CHECKING:
    from engine.analysis.aso import AsoResult
    from engine.analysis.power import SeedPower
    from engine.analysis.replicability import Replicability
    from engine.analysis.sentence_level import Paths, SentenceTest
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
    replication: Replicability | None = None  # pooled rows: in how many languages the effect holds
    power: SeedPower | None = None  # seeds per language the observed spread needs for 80 % power
    aso: AsoResult | None = None  # Almost Stochastic Order, when asked for (--aso)
    sentence: SentenceTest | None = None  # paired bootstrap over test sentences, from stored predictions

    @property
    def t_doubtful(self) -> bool:
        """Shapiro–Wilk rejects normal paired differences: read p_perm rather than p_t."""
        sw = self.result.normality
        return sw is not None and not math.isnan(sw.p) and sw.p < ALPHA

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
                     per_language: bool = False, n_resamples: int = 100_000, seed: int = 0,
                     aso_iterations: int | None = None, predictions: Paths | None = None,
                     sentence_resamples: int = 10_000) -> ComparisonTable:
    """``system`` vs each baseline, pairs matched on (task, setting, language, seed); ASO (deepsig,
    seconds per row) only when ``aso_iterations`` is given; sentence-level tests when ``predictions``
    ((run id, language) -> stored test predictions, engine.analysis.sentence_level) is given."""
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
                row = _row(task, m, setting, system, base, POOLED, a, b, n_resamples, seed)
                langs = [_row(task, m, setting, system, base, lang, _pairs(scores, system, lang),
                              _pairs(scores, base, lang), n_resamples, seed)
                         for lang in sorted({k[0] for k in a} | {k[0] for k in b})]
                pooled.append(replace(row, replication=_replication(row, langs)))
                table.warnings += _unpaired_warning(pooled[-1], a, b)
                if per_language:
                    by_lang += langs
    n_langs = max((r.replication.n for r in pooled if r.replication), default=1)
    table.rows = ([_with_power(r, scores_of(data, r), len(pooled)) for r in _adjusted(pooled)]
                  + [_with_power(r, scores_of(data, r), n_langs) for r in _adjusted(by_lang)])
    if aso_iterations is not None:
        family = {POOLED: len(pooled)}
        table.rows = [replace(r, aso=_aso(data, r, family.get(r.language, len(by_lang)), aso_iterations, seed))
                      for r in table.rows]
        table.warnings += [f"{r.system} vs {r.baseline} ({r.task}, {r.setting}, {r.language}): ASO needs at least 2 "
                           f"scores per system, got {r.aso.n_a} and {r.aso.n_b}" for r in table.rows
                           if r.aso is not None and math.isnan(r.aso.eps_min)]
    sentence_caption = ""
    if predictions is not None:
        from engine.analysis.sentence_level import RowPairs, sentence_level_tests
        from engine.analysis.sentence_level import sentence_caption as caption_of

        asked = [RowPairs(r.task, r.metric, r.language == POOLED, r.result.n_pairs, _paired_runs(data, r))
                 for r in table.rows]
        tests, said = sentence_level_tests(asked, predictions, resamples=sentence_resamples, seed=seed)
        table.rows = [replace(r, sentence=t) for r, t in zip(table.rows, tests)]
        table.warnings += said
        sentence_caption = caption_of(tests, sentence_resamples, seed, [r.task for r in table.rows])
    table.warnings += _design_warnings(table.rows)
    table.caption = (_comparison_caption(table, len(pooled), len(by_lang)) + _aso_caption(aso_iterations, seed)
                     + sentence_caption)
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
    return [replace(r, p_holm=p, mark=holm_mark(p)) for r, p in zip(rows, adjusted)]


def _one_sided(row: ComparisonRow, direction: float) -> float:
    """The sign-flip test's one-sided p in the pooled effect's direction (its null is symmetric)."""
    p = row.result.permutation.p
    if math.isnan(p):
        return math.nan
    same = row.result.mean_diff * direction > 0
    return p / 2 if same else min(1.0, 1 - p / 2)


def _replication(pooled: ComparisonRow, langs: list[ComparisonRow]) -> Replicability | None:
    """In how many languages the pooled effect's direction holds (partial conjunction, Bonferroni:
    the same seeds run in every language, so the per-language tests are not independent)."""
    from engine.analysis.replicability import replicability

    direction = pooled.result.mean_diff
    if not langs or math.isnan(direction) or direction == 0:
        return None
    return replicability([_one_sided(r, direction) for r in langs], method="bonferroni", alpha=ALPHA)


def scores_of(data: ScoreSet, row: ComparisonRow) -> dict[str, list[float]]:
    """language -> paired differences (system − baseline, one per shared seed) behind ``row``."""
    a, b = _row_scores(data, row)
    out: dict[str, list[float]] = defaultdict(list)
    for key in sorted(set(a) & set(b)):
        out[key[0]].append(a[key] - b[key])
    return dict(out)


def _picked(data: ScoreSet, row: ComparisonRow) -> list[Score]:
    """The scores of ``row``'s task, metric and setting (and language, unless pooled)."""
    return [s for s in data.scores if s.task == row.task and s.metric == row.metric and s.setting == row.setting
            and (row.language == POOLED or s.language == row.language)]


def _row_scores(data: ScoreSet, row: ComparisonRow) -> tuple[dict, dict]:
    """(language, seed) -> score of the system and of the baseline behind ``row`` (paired or not)."""
    picked = _picked(data, row)
    return _pairs(picked, row.system, None), _pairs(picked, row.baseline, None)


def _paired_runs(data: ScoreSet, row: ComparisonRow) -> list[tuple[str, int, int, int]]:
    """(language, seed, system's run id, baseline's run id) of the pairs behind ``row``."""
    picked = _picked(data, row)
    runs = {(s.system, s.language, s.seed): s.run_id for s in picked}
    return sorted((lang, seed, runs[(row.system, lang, seed)], runs[(row.baseline, lang, seed)])
                  for lang, seed in {(s.language, s.seed) for s in picked}
                  if (row.system, lang, seed) in runs and (row.baseline, lang, seed) in runs)


def _aso(data: ScoreSet, row: ComparisonRow, family: int, iterations: int, seed: int) -> AsoResult:
    """ε_min of system over baseline; pooled rows on scores centred per language (engine.analysis.aso)."""
    from engine.analysis.aso import aso_eps_min, centred_by_language

    a, b = _row_scores(data, row)
    xs, ys = centred_by_language(a, b) if row.language == POOLED else (list(a.values()), list(b.values()))
    return aso_eps_min(xs, ys, comparisons=family, iterations=iterations, seed=seed)


def _with_power(row: ComparisonRow, diffs: dict[str, list[float]], family: int) -> ComparisonRow:
    """Seeds per language for 80 % power at Holm's first threshold α / ``family``."""
    from engine.analysis.power import seeds_for_power

    if not diffs or row.result.n_pairs < 2:
        return row
    return replace(row, power=seeds_for_power(diffs, ALPHA / max(1, family)))


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
        if r.t_doubtful and res.normality is not None:
            out.append(f"{where}: Shapiro-Wilk rejects normal paired differences (W = {res.normality.w:.3f}, "
                       f"p = {res.normality.p:.3g}): the t-test's assumption is doubtful, read p_perm")
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
    return text + ("; † p_Holm < 0.05, ‡ p_Holm < 0.01. p_SW: Shapiro–Wilk test of normality of the paired "
                   "differences (n ≥ 3); * after p_t: p_SW < 0.05, the t-test's assumption is doubtful and p_perm "
                   "should be read. k/N (pooled rows): the effect's direction holds in at least k of N languages "
                   "(partial-conjunction test of the one-sided per-language sign-flip p-values, Bonferroni "
                   "combination, Benjamini & Heller 2008 / Dror et al. 2017; family-wise α = 0.05). seeds 80%: "
                   "seeds per language at which the sign-flip test reaches 80% power at Holm's first threshold "
                   "(α divided by the pooled comparisons, or by the languages for per-language rows), from a "
                   "seeded bootstrap of the observed paired differences (1,000 resamples; with few seeds a "
                   "planning guide, not a guarantee).")


def _aso_caption(iterations: int | None, seed: int) -> str:
    if iterations is None:
        return " ε_min (Almost Stochastic Order, deepsig): on request, --aso (seconds per comparison)."
    return (f" ε_min: Almost Stochastic Order of the system's seed scores over the baseline's (Dror et al. 2019; "
            f"deepsig.aso, confidence 0.95 with Bonferroni over the rows of its family, {iterations} bootstrap "
            f"iterations, seed {seed}); ε_min < τ = 0.2 supports 'system better' (0: always better, 1: always "
            f"worse). Pooled rows compare all (language, seed) scores after removing each language's mean.")
