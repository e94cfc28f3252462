"""From stored results to paper tables: scores, statistics, comparisons, renderings, figures.

Holds: reading scores from the database (``scores``), statistics (``stats``: pure,
scipy), mean ± SD tables (``tables``), paired comparisons with Holm (``comparison``),
the report that bundles them (``report``), terminal/CSV/LaTeX/Markdown/JSON output
(``render``), figures (``figures``), importing published per-run results
(``import_results``), and train/test leakage checks of few-shot runs (``leakage``).

May import: engine.store, engine.data, engine.spec, engine.settings.
"""
