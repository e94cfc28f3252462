"""Display strings of the report's numbers, shared by every renderer (terminal, TUI, LaTeX, Markdown).

Formatting only: every number comes from engine.analysis.tables and .comparison.
"""

from __future__ import annotations

import math

from engine.analysis.comparison import ComparisonRow, ComparisonTable
from engine.analysis.tables import Cell


def fmt_num(x: float | None, scale: float = 1.0, digits: int = 1) -> str:
    return "—" if x is None or math.isnan(x) else f"{x * scale:.{digits}f}"


def fmt_p(p: float) -> str:
    if math.isnan(p):
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def fmt_cell(cell: Cell, scale: float, pm: str = "±") -> str:
    if cell.summary is None:
        text = "—"
    elif cell.n < 2:
        text = fmt_num(cell.summary.mean, scale)
    else:
        text = f"{fmt_num(cell.summary.mean, scale)} {pm} {fmt_num(cell.summary.sd, scale)}"
    return text


def perm_label(row: ComparisonRow) -> str:
    perm = row.result.permutation
    if not row.result.n_pairs:
        return "—"
    return f"exact {perm.n_permutations}" if perm.exact else f"MC {perm.n_permutations}"


COMPARISON_HEADER = ["baseline", "task", "setting", "language", "n_pairs", "n_dropped", "Δ", "95% CI", "p_perm",
                     "perm. (n)", "p_t", "p_SW", "d_z", "d_av", "p_Holm", "p_min", "k/N", "seeds 80%", "ε_min",
                     "Δ_sent [95% CI]", "p_boot", "k_s/N"]


def comparison_cells(row: ComparisonRow, *, minus: str = "−") -> list[str]:
    """One Table C row as display strings (Δ and CI in percentage points for fractions)."""
    r, s = row.result, row.scale
    num = lambda x: fmt_num(x, s, 2).replace("-", minus)
    ci = "—" if math.isnan(r.ci_low) else f"[{num(r.ci_low)}, {num(r.ci_high)}]"
    d = lambda x: fmt_num(x, 1, 2).replace("-", minus)
    sw = r.normality.p if r.normality is not None else math.nan
    k = row.replication.describe() if row.replication is not None else "—"
    seeds = row.power.describe() if row.power is not None else "—"
    return [row.baseline, row.task, row.setting, row.language,
            str(r.n_pairs), str(r.n_dropped), num(r.mean_diff), ci, fmt_p(r.permutation.p), perm_label(row),
            fmt_p(r.t_test.p) + ("*" if row.t_doubtful else ""), fmt_p(sw), d(r.d_z), d(r.d_av),
            fmt_p(row.p_holm) + row.mark, fmt_p(r.permutation.p_min), k, seeds,
            fmt_num(row.aso.eps_min, 1, 3) if row.aso is not None else "—", *sentence_cells(row, num)]


def sentence_cells(row: ComparisonRow, num) -> list[str]:
    """Δ_sent [CI], p_boot (with its Holm mark) and k_s/N of the sentence-level test, or dashes."""
    sent = row.sentence
    if sent is None or sent.result is None:
        return ["—", "—", "—"]
    r = sent.result
    k = sent.replication.describe() if sent.replication is not None else "—"
    return [f"{num(r.delta)} [{num(r.ci_low)}, {num(r.ci_high)}]", fmt_p(r.p) + sent.mark, k]


def _has_sentence_test(row: ComparisonRow) -> bool:
    return row.sentence is not None and row.sentence.result is not None


# columns a row fills only when asked for (--aso) or when data allows: shown when any row has them
OPTIONAL_COLUMNS = {"ε_min": lambda row: row.aso is not None, "Δ_sent [95% CI]": _has_sentence_test,
                    "p_boot": _has_sentence_test, "k_s/N": _has_sentence_test}


def shown_columns(table: ComparisonTable) -> list[int]:
    """Indices of COMPARISON_HEADER to show: an optional column no row fills is left out."""
    return [i for i, name in enumerate(COMPARISON_HEADER)
            if name not in OPTIONAL_COLUMNS or any(OPTIONAL_COLUMNS[name](r) for r in table.rows)]
