"""Can this grid's seed-level tests reach significance at all? Said before anything runs.

The exact sign-flip test over n paired seeds can never give p below 2^(1−n): with 3
seeds a per-language claim stops at p = 0.25, and after Holm over L target languages
it needs p ≤ 0.05 / L — 9 seeds for 10 languages. This is arithmetic on the grid,
not a power statement (engine.analysis.power's bootstrap answers that once results
exist); the sentence-level test over stored predictions has no such floor.

The comparisons a grid implies are what ``xltui results`` tests by default: the MAD-X
model against every other model, else (no MAD-X) every pair of models.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from engine.analysis.power import p_min, seeds_for_holm
from engine.analysis.summary import ALPHA

__all__ = ["DesignCheck", "design_check"]


@dataclass(frozen=True)
class DesignCheck:
    """What the seed-level tests of one (task, setting) of a grid can reach."""

    task: str
    setting: str
    comparisons: tuple[tuple[str, str], ...]  # (system, baseline)
    seeds: int  # seeds both sides of every comparison have, per language (the fewest)
    languages: tuple[str, ...]
    p_min_language: float
    p_min_pooled: float
    holm_level: float  # α / languages: Holm's first threshold for per-language claims
    seeds_needed: int  # per language, for a per-language claim to clear that threshold
    pooled_level: float  # α / pooled comparisons of the whole grid

    @property
    def per_language_possible(self) -> bool:
        return self.p_min_language <= self.holm_level

    @property
    def pooled_possible(self) -> bool:
        return self.p_min_pooled <= self.pooled_level

    def describe(self) -> str:
        pairs = ", ".join(f"{a} vs {b}" for a, b in self.comparisons)
        return (f"{self.task} {self.setting} ({pairs}): {self.seeds} seed(s) × {len(self.languages)} language(s) — "
                f"smallest possible p per language {self.p_min_language:.3g}, pooled {self.p_min_pooled:.3g}; "
                f"a per-language claim after Holm over {len(self.languages)} language(s) needs p ≤ "
                f"{self.holm_level:.3g}: {self.seeds_needed} seeds")

    def short(self) -> str:
        """One line for a narrow panel (the composer)."""
        verdict = ("per-language claims possible" if self.per_language_possible else
                   f"per-language claims need {self.seeds_needed} seeds")
        if not self.pooled_possible:
            verdict += "; pooled cannot reach significance either"
        return (f"{self.task} {self.setting}: {self.seeds} seeds × {len(self.languages)} langs, "
                f"p ≥ {self.p_min_language:.3g} per language, ≥ {self.p_min_pooled:.2g} pooled — {verdict}")

    def warnings(self) -> list[str]:
        out = []
        where = f"{self.task} {self.setting}"
        if not self.per_language_possible:
            out.append(f"{where}: with {self.seeds} seed(s) no per-language comparison can be significant after Holm "
                       f"over {len(self.languages)} language(s) (smallest p {self.p_min_language:.3g} > "
                       f"{self.holm_level:.3g}); use {self.seeds_needed} seeds, claim pooled effects only, or read "
                       f"the sentence-level test (stored predictions)")
        if not self.pooled_possible:
            out.append(f"{where}: even pooled over languages the smallest p is {self.p_min_pooled:.3g} > "
                       f"{self.pooled_level:.3g} (Holm over the grid's pooled comparisons): add seeds or languages")
        return out


def implied_comparisons(models: dict[str, str]) -> list[tuple[str, str]]:
    """model name -> method: MAD-X vs each other model, else every pair (in name order)."""
    names = sorted(models)
    madx = [n for n in names if models[n] == "madx"]
    if madx:
        return [(madx[0], b) for b in names if b != madx[0]]
    return list(combinations(names, 2))


def design_check(specs: Sequence, alpha: float = ALPHA) -> list[DesignCheck]:
    """One check per (task, setting) of a grid's run specs (engine.spec.RunSpec or alike)."""
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for s in specs:
        if hasattr(s, "targets") and hasattr(s, "seed"):  # language-adapter trainings are not compared
            setting = s.setting if getattr(s, "k", None) is None else f"{s.setting} k={s.k}"
            groups[(s.task, setting)].append(s)
    found = []
    for (task, setting), runs in sorted(groups.items()):
        models = {s.model_name: s.method for s in runs}
        pairs = implied_comparisons(models)
        if not pairs:
            continue
        seeds: dict[tuple[str, str], set[int]] = defaultdict(set)
        for s in runs:
            for lang in s.targets:
                seeds[(s.model_name, lang)].add(s.seed)
        # a comparison is tested on the languages both its sides have (MiniLM's MAD-X has no Amharic
        # in the offline paper grid): another model's extra language is no pair with 0 seeds
        both = {(a, b, lang): len(seeds[(a, lang)] & seeds[(b, lang)]) for a, b in pairs
                for lang in {lang for s in runs for lang in s.targets}}
        shared = {key: n for key, n in both.items() if n}
        if not shared:
            continue
        langs = tuple(sorted({lang for _, _, lang in shared}))
        found.append((task, setting, tuple(dict.fromkeys((a, b) for a, b, _ in sorted(shared))),
                      min(shared.values()), langs))
    n_pooled = sum(len(f[2]) for f in found) or 1
    return [DesignCheck(task, setting, pairs, n, langs, p_min(n), p_min(n * len(langs)), alpha / len(langs),
                        seeds_for_holm(len(langs), alpha), alpha / n_pooled)
            for task, setting, pairs, n, langs in found]
