"""The database, the only channel between the CLI, the app, workers and run processes.

Holds: the SQLModel tables (``schema``), opening SQLite (WAL) or a server database
(``db``), the queue state machine of compare-and-set transitions, claims and leases
(``queue``), storing a finished run's results and artifacts in one transaction
(``results``), read views for the CLI and the app (``queries``), and batched metric
and system-sample writes (``telemetry``).

May import: engine.spec, engine.settings.
"""
