"""The database, the only channel between the CLI, the app, workers and run processes.

Holds: the SQLModel tables (``schema``), opening SQLite (WAL) or a server database
(``db``), what every opener checks before it trusts a database, free of SQLAlchemy
(``meta``), schema upgrades in place (``migrations``), the database server's clock
(``clock``), whether a SQLite file is safe where it is (``sharing``), a consistent copy
of a live SQLite file (``backup``); the queue state machine of compare-and-set
transitions, claims and leases (``queue``), what users ask of it: cancel, retry,
priority, stop a worker (``requests``), a worker slot's own row in the workers table
(``workers``), the runs one worker process has running now, which its CPU runs count to
share its cores (``worker_runs``), the worker jobs submitted to a cluster
(``cluster_jobs``), storing a finished run's results and artifacts in one transaction
(``results``), what an attempt that continued from a saved training state records
(``resumes``), and batched metric and system-sample writes (``telemetry``: a run's GPU
utilisation through ``engine.gpus``, its torch memory handed in as numbers by
``engine.training``). Reads: plain SQL on a ``Reader`` that needs no SQLAlchemy for a
SQLite file (``reader``), the queue as `xltui status` shows it (``queue_reads``), light
reads for the app's poll (``live_reads``), and read views on an Engine for the CLI and
the app (``queries``).

May import: engine.spec, engine.settings, engine.gpus.
"""
