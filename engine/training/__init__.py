"""The run process and its trainers: the only place torch, transformers and adapters are imported.

Holds: the run subprocess's entry point (``run``), the warm launcher that imports torch
and the trainers once per worker slot and forks each run from there (``launcher``), the
warm server that imports them once for a machine's workers and forks their launchers
(``warm_server``), the
trainer table (``trainers``) and what each trainer gets (``inputs``); the optimisation
loop (``loop``) and its loss points (``loss_points``); resuming: the loop's state as one
object (``train_state``) with every random generator (``rng``), saved and restored by
``saving`` into a run's state folder, checked before it is trusted (``resume``), each file
written under a temporary name and renamed, hashed as it is written (``state_files``), and a stop acted on at a step boundary (``interrupt``); tokens/s and MFU of a run (``throughput``), the zero-shot trainer of
every task and method (``zeroshot``), what differs between a head that labels words and one
that labels texts (``heads``, as the task table says) with their data preparation
(``tagging_data``, ``sentence_data``, ``token_cache``), MAD-X language and task adapters
(``madx``), few-shot continuation (``fewshot``), the
alignment regulariser (``alignment``), the model zoo (``modelzoo``), and a CPU run's torch
threads kept at its share of its worker's cores (``cpu_threads``).

May import: engine.store, engine.data, engine.spec, engine.settings, engine.runfiles.
Nothing outside this package imports it, except the run process's command line.
"""
