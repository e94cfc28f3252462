"""LaTeX (booktabs) tables of a report: escaped for pdflatex, wide tables resized to the line."""

from __future__ import annotations

import re

from engine.analysis.cells import comparison_cells, fmt_cell, shown_columns
from engine.analysis.comparison import ComparisonTable
from engine.analysis.efficiency import EfficiencyTable, efficiency_cells, efficiency_header, shown_efficiency_columns
from engine.analysis.report import Report
from engine.analysis.tables import Cell, ScoreTable

__all__ = ["latex_comparison_table", "latex_document", "latex_efficiency_table", "latex_escape", "latex_score_table",
           "to_latex"]


# $ is set in math: a text-mode \$ pulls the TS1 font, which basic TeX installs only have as bitmaps
_LATEX = {"&": r"\&", "%": r"\%", "$": r"$\$$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
          "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}", "<": r"\textless{}",
          ">": r"\textgreater{}", "|": r"\textbar{}", "±": r"$\pm$", "×": r"$\times$", "−": r"$-$",
          "Δ": r"$\Delta$", "†": r"$^{\dagger}$", "‡": r"$^{\ddagger}$", "…": r"\ldots{}",
          "—": "---", "–": "--", "→": r"$\rightarrow$", "≥": r"$\geq$", "≤": r"$\leq$", "α": r"$\alpha$",
          "ε": r"$\varepsilon$", "τ": r"$\tau$", "√": r"$\surd$"}


def latex_escape(text: str) -> str:
    """Text safe for pdflatex: the ten special characters and the symbols the tables use."""
    return "".join(_LATEX.get(ch, ch) for ch in str(text))


def _latex_tabular(header: list[str], body: list[str], align: str, caption: str, label: str, wide: bool) -> str:
    """A booktabs table float; ``body`` holds finished rows (``a & b \\``) or rules."""
    lines = [r"\begin{table}[htbp]", r"\centering", rf"\caption{{{latex_escape(caption)}}}",
             rf"\label{{{label}}}"]
    if wide:
        lines.append(r"\resizebox{\linewidth}{!}{%")
    lines += [rf"\begin{{tabular}}{{{align}}}", r"\toprule", " & ".join(header) + r" \\", r"\midrule", *body,
              r"\bottomrule", r"\end{tabular}" + ("}" if wide else ""), r"\end{table}", ""]
    return "\n".join(lines)


def _label(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9:.-]", "-", text)


def latex_score_table(t: ScoreTable) -> str:
    def cell(c: Cell) -> str:
        text = latex_escape(fmt_cell(c, t.scale))
        text = rf"\textbf{{{text}}}" if c.best else text
        return text + (rf" {{\scriptsize ({c.n}/{c.n_expected})}}" if c.incomplete else "")

    body, last = [], None
    for r in t.rows:
        if last is not None and r.setting != last:
            body.append(r"\midrule")
        last = r.setting
        body.append(" & ".join([latex_escape(r.system), latex_escape(r.setting),
                                *(cell(r.cells[c]) for c in t.columns)]) + r" \\")
    return _latex_tabular(["Model", "Setting", *(latex_escape(c) for c in t.columns)], body,
                          "ll" + "r" * len(t.columns), f"{t.title}. {t.caption}", _label(f"tab:{t.task}-{t.metric}"),
                          wide=len(t.columns) > 6)


def latex_comparison_table(t: ComparisonTable) -> str:
    header = ["Baseline", "Task", "Setting", "Language", "pairs", "dropped", r"$\Delta$", r"95\% CI",
              r"$p_{\mathrm{perm}}$", "perm.", r"$p_t$", r"$p_{\mathrm{SW}}$", "$d_z$", r"$d_{\mathrm{av}}$",
              r"$p_{\mathrm{Holm}}$", r"$p_{\min}$", "$k/N$", r"seeds 80\%", r"$\varepsilon_{\min}$",
              r"$\Delta_{\mathrm{sent}}$ [95\% CI]", r"$p_{\mathrm{boot}}$", "$k_s/N$"]
    keep = shown_columns(t)
    header = [header[i] for i in keep]
    body = [" & ".join(latex_escape(comparison_cells(row)[i]) for i in keep) + r" \\" for row in t.rows]
    return _latex_tabular(header, body, "llll" + "r" * (len(header) - 4), f"{t.title}. {t.caption}", "tab:significance",
                          wide=True)


def latex_efficiency_table(t: EfficiencyTable) -> str:
    """Score against cost; a rule between tasks, and between settings within a task."""
    keep, header = shown_efficiency_columns(t), efficiency_header(t)
    body, last = [], None
    for row in t.rows:
        if last is not None and (row.task, row.setting) != last:
            body.append(r"\midrule")
        last = (row.task, row.setting)
        cells = [latex_escape(c) for c in efficiency_cells(row)]
        if row.score.best:
            cells[4] = rf"\textbf{{{cells[4]}}}"
        body.append(" & ".join(cells[i] for i in keep) + r" \\")
    names = [latex_escape(header[i]).capitalize() if i < 4 else latex_escape(header[i]) for i in keep]
    return _latex_tabular(names, body, "llll" + "r" * (len(keep) - 4), f"{t.title}. {t.caption}",
                          "tab:efficiency", wide=True)


def to_latex(report: Report) -> str:
    parts = [r"% xltui results: needs \usepackage{booktabs} and \usepackage{graphicx} (for \resizebox)"]
    parts += [f"% warning: {latex_escape(w)}" for w in report.all_warnings]
    parts += [latex_score_table(t) for t in report.score_tables]
    if report.comparison is not None:
        parts.append(latex_comparison_table(report.comparison))
    if report.efficiency is not None:
        parts.append(latex_efficiency_table(report.efficiency))
    return "\n".join(parts)


def latex_document(body: str) -> str:
    """A standalone document around ``to_latex`` output (used by the compile test)."""
    return "\n".join([r"\documentclass{article}", r"\usepackage[utf8]{inputenc}",
                      r"\usepackage{booktabs}", r"\usepackage{graphicx}", r"\begin{document}", body,
                      r"\end{document}", ""])
