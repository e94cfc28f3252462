"""Getting a grid's runs queued and executed: what each waits for, on which device, in which process.

Holds: a grid taken to the queue, once for the CLI and the app (``study``: load, data
files, design warnings, what the database already has, plan, enqueue, one report),
planning a study's runs before they are queued (``plan``: language adapters, few-shot
parents), device flags (``devices``: ``--cpu``, ``--gpus``; GPUs counted by
``engine.gpus``), the gate a GPU slot passes before it packs another run on its GPU
(``admission``, ``packing``), the cores a worker's CPU runs share and what each starts
with (``cpu_share``), the worker process with a slot per device (``worker``), the worker
slot that claims a run, runs it in its own subprocess (``python -m
engine.training.run``) and records how the attempt ended (``slot``), what the slots are
and the environment each gives its run (``slot_setup``), that run's process
as the slot starts, signals and kills it (``run_process``), the warm launcher's worker
side that forks runs instead (``warm``), how a run process ended in words a user can act
on (``exits``), a full disk told apart from a run's own error and waited out
(``disk_space``), the stop policy: which signal asks what of a worker (``stop``), and
workers as a Slurm job array through submitit (``slurm``).

May import: engine.store, engine.data, engine.spec, engine.settings, engine.runfiles,
engine.gpus; engine.grid and engine.analysis (its design check) for ``study`` only —
never engine.training (it only names its module), so a worker starts without torch.
"""
