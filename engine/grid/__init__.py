"""A researcher's grid file → a validated Grid → the RunSpecs it stands for.

Holds: YAML reading with line numbers and ``file:line: field:`` errors (``yamlfile``),
the schema of a grid and how model and data references resolve (``schema``), grid
sections beyond the core axes and grid-relative paths (``options``), the checks that
every data file a grid names exists (``data_checks``), and the expansion into runs
(``expand``). Everything is checked before anything is queued.

May import: engine.data, engine.spec, engine.settings.
"""
