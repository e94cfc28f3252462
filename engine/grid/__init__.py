"""A researcher's grid file → a validated Grid → the RunSpecs it stands for.

Holds: YAML reading with line numbers and ``file:line: field:`` errors (``yamlfile``),
the schema of a grid (``schema``), how its model, dataset, text and language references
resolve (``references``), task adapters by the adapters library's method names
(``methods``), grid sections beyond the core axes and grid-relative paths
(``options``), the check that every language resolves to the split files its role needs
(``data_checks``), the check of every line of every data file the runs will read
(``file_checks``), and the expansion into runs (``expand``). Everything is checked
before anything is queued (engine.runner.study runs these steps in order for every
caller).

May import: engine.data, engine.spec, engine.settings.
"""
