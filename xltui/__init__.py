"""xltui: terminal experiment manager for cross-lingual transfer studies.

Holds the command and the Textual app; the engine (``engine/``) does the work. The
command: its entry point, which opens the app without Typer and hands every other command
to the Typer CLI (``entry``), ``python -m xltui`` (``__main__``), the CLI (``cli``: run,
worker, status, cancel, retry; ``cli_grid``: grid validate|show; ``cli_results``:
results and import-results; ``cli_slurm``: slurm submit|status|cancel; ``cli_db``: db
backup), one-line user errors and exit codes (``errors``), a worker that outlives the
terminal (``detach``), ``xltui run``'s foreground worker with a live display
(``foreground``), and the rich tables of the queue that `xltui status` and that display
share (``views``). The app: opening it lightly (``launch``), the app itself (``app``) and
its screens and widgets (``tui/``).

Never imports engine.training, torch, transformers or adapters (tests/test_layout.py).
"""
