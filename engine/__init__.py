"""Everything that runs without a screen, one folder per stage of a study.

    grid file ─▶ grid/ ─▶ [RunSpec] ─▶ runner/plan ─▶ store/ (queue) ─▶ runner/slot (worker)
                                                                          │ python -m engine.training.run
                                                      analysis/ ◀── store/ ◀── training/

Read it in this order: ``spec.py`` (what a run is, the shared words), ``grid/`` (how a
researcher's file becomes runs), ``store/`` (the database: tables, the queue state
machine, reads), ``runner/`` (planning dependencies, workers, devices), ``training/``
(the run process and its trainers), ``analysis/`` (scores, statistics, tables).
``settings.py`` names every XLTUI_* variable, ``runfiles.py`` every file of a run.
``states.py`` holds the words of ``spec.py`` that need no pydantic (run, attempt and
worker states, each task's main metric; ``spec`` re-exports them), so the read-only
paths (`xltui status`, the app's first screen) name states without importing pydantic:
the layout counts it as part of ``spec``.

Imports go one way (tests/test_layout.py checks it, without executing anything):

    spec (+states), settings, runfiles   import nothing of the engine (runfiles: nothing at all)
    data                       spec, settings
    grid                       data, spec, settings
    store                      spec, settings
    runner                     store, data, spec, settings, runfiles
    training                   store, data, spec, settings, runfiles
    analysis                   store, data, spec, settings

Never ``textual`` or ``xltui``; only ``training/`` imports torch, transformers or
adapters, so the store, queue, worker and grid stay light.
"""
