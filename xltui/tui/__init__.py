"""The Textual app's screens and widgets (see ``xltui.app``).

Nothing here imports torch: the app reads and writes the database only through
``engine.store.db`` / ``engine.store.queries`` / ``engine.store.queue``; training stays in worker
processes.
"""
