"""Getting queued runs executed: what each waits for, on which device, in which process.

Holds: planning a study's runs before they are queued (``plan``: language adapters,
few-shot parents), device flags (``devices``: ``--cpu``, ``--gpus``, NVML), and the
worker slot that claims a run, runs it in its own subprocess
(``python -m engine.training.run``) and records how the attempt ended (``slot``).

May import: engine.store, engine.data, engine.spec, engine.settings, engine.runfiles —
never engine.training (it only names its module), so a worker starts without torch.
"""
