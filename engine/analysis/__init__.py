"""From stored results to paper tables: scores, statistics, comparisons, renderings, figures.

Holds:

- inputs: tidy score rows read from the database (``scores``); importing published
  per-run results as an external study (``import_results``).
- numbers: mean ± SD with t-intervals and macro averages (``summary``), Student's t in pure
  Python (``tdist``), significance tests for seed-paired comparisons (``stats``: pure,
  scipy), Shapiro–Wilk normality to choose between them (``normality``), ASO through
  deepsig (``aso``), partial-conjunction replicability over languages
  (``replicability``), seeds and power (``power``), what a grid's design can reach
  before it runs (``design``).
- tables: mean ± SD tables A/B (``tables``), the paired comparison table C with Holm
  (``comparison``), sentence-level paired bootstrap tests (``sentence_tests``) and their
  rows from stored predictions (``sentence_level``), results a reader would question
  (``suspicious``), train/test leakage checks of few-shot runs (``leakage``), what each
  method costs beside its score — trainable parameters, s/step, peak memory (``efficiency``) —
  and the report that bundles them with its warnings (``report``).
- output: display strings of the numbers (``cells``), terminal/CSV/Markdown/JSON
  (``render``), LaTeX (``render_latex``), terminal charts and figure files (``figures``).

May import: engine.store, engine.data, engine.spec, engine.settings.
"""
