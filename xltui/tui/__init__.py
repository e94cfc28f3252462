"""The Textual app's screens and widgets (see ``xltui.app``), one module per screen.

Screens, by their key: the queue, 1 (``queue_screen``, its virtual run list ``runlist``);
the composer, 2 (``composer``, its form ``composer_form``, a model entry's adapter fields ``composer_adapters``, the languages it offers
``data_choices``, the grid it builds ``grid_draft``); results, 3 (``results_screen``,
what it asks for ``results_view``); workers, 4 (``workers_screen``, per-device state
``devices``); the run detail, Enter on a run (``run_screen``, its scores ``run_scores``);
``?``: the keys of the screen underneath (``help_screen``); the frame shown while the
engine loads (``loading_screen``).

Shared parts: the base of every screen redrawn from the poll (``live``), messages
between the poll, the app and its screens (``messages``), line charts (``charts``),
modal dialogs: a yes / no question (``confirm_dialog``), a detached worker to start
(``worker_dialog``), a grid name or file (``grid_dialogs``). Reading the database with
no Textual import: the poll's snapshot (``snapshot``) of plain dataclasses
(``snapshot_types``), the opened run's detail (``detail_reader``). A fixed demo database
for snapshot tests and screenshots (``demo``).

Nothing here imports torch: the app reads and writes the database only through
``engine.store`` (and queues grids through ``engine.runner.study``); training stays in
worker processes.
"""
