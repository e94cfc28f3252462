"""The run process and its trainers: the only place torch, transformers and adapters are imported.

Holds: the run subprocess's entry point (``run``), the trainer table (``trainers``) and
what each trainer gets (``inputs``); the optimisation loop (``loop``), full fine-tuning
for tagging (``tagging``) with its data preparation (``tagging_data``, ``token_cache``),
MAD-X language and task adapters (``madx``), few-shot continuation (``fewshot``), the
alignment regulariser (``alignment``), and the model zoo (``modelzoo``).

May import: engine.store, engine.data, engine.spec, engine.settings, engine.runfiles.
Nothing outside this package imports it, except the run process's command line.
"""
