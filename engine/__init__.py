"""Everything that runs without a screen, one folder per stage of a study.

    grid file ─▶ grid/ ─▶ [RunSpec] ─▶ runner/plan ─▶ store/ (queue) ─▶ runner/slot (worker)
                                                                          │ python -m engine.training.run
                                                      analysis/ ◀── store/ ◀── training/

Read it in this order: ``spec.py`` (what a run is, the shared words), ``data/`` (datasets
and text, read and checked without torch), ``grid/`` (how a researcher's file becomes
runs), ``store/`` (the database: tables, the queue state machine, reads), ``runner/`` (a
grid taken to the queue, planning dependencies, workers, devices), ``training/`` (the run
process and its trainers), ``analysis/`` (scores, statistics, tables).
``settings.py`` names every XLTUI_* variable, ``runfiles.py`` every file of a run,
``gpus.py`` is the one GPU probe (NVML, no torch, no CUDA context; the fake GPUs of
``$XLTUI_TEST_GPUS``) that the worker, a run's telemetry and the app all read GPUs through.
``states.py`` holds the words of ``spec.py`` that need no pydantic (run, attempt and
worker states, each task's main metric; ``spec`` re-exports them), so the read-only
paths (`xltui status`, the app's first screen) name states without importing pydantic;
``tasks.py`` is the task table (NER, POS, sentiment: data format, head, labels, metrics,
bootstrap unit), which every stage branches on instead of task names. The layout counts
both as part of ``spec``.

Imports go one way (tests/test_layout.py checks it, without executing anything):

    spec (+states, tasks), settings, runfiles   import nothing of the engine (runfiles: nothing at all)
    gpus                       settings
    data                       spec, settings
    grid                       data, spec, settings
    store                      spec, settings, gpus
    runner                     store, data, spec, settings, runfiles, gpus, grid, analysis
                               (grid and analysis for ``runner/study`` only: a grid checked, its
                               design warned about and its runs queued, once for the CLI and the app)
    training                   store, data, spec, settings, runfiles
    analysis                   store, data, spec, settings

Never ``textual`` or ``xltui``; only ``training/`` imports torch, transformers or
adapters, so the store, queue, worker and grid stay light.
"""
