"""Opening the app, as lightly as it can be opened.

`xltui` alone (or with only ``--db``) opens the app, and its first frame should be on
screen as soon as a bare Textual app's would be: so that path (``xltui.entry``) imports
neither Typer (its parameter coercion pulls in pydantic) nor the engine before the app
paints. ``xltui.cli`` opens the app through here too.
"""

from __future__ import annotations

import sys

EXIT_USER_ERROR = 2


def app_only(argv: list[str]) -> tuple[bool, str | None]:
    """Whether ``argv`` only opens the app (``xltui``, ``xltui --db X``), and with which database."""
    if not argv:
        return True, None
    if len(argv) == 2 and argv[0] == "--db" and not argv[1].startswith("-"):
        return True, argv[1]
    if len(argv) == 1 and argv[0].startswith("--db=") and len(argv[0]) > len("--db="):
        return True, argv[0][len("--db="):]
    return False, None


def open_app(db: str | None) -> int:
    """Run the app on ``db`` (else $XLTUI_DB, else ./experiments.db); the exit status.

    A database that cannot be opened is one ``error:`` line and status 2: found by the
    app behind its frame, or first, where no terminal shows a frame (output captured).
    """
    from engine.settings import db_url_of, scrub

    if not (sys.stdout.isatty() and sys.stderr.isatty()):
        from engine.store.db import StoreError, open_db

        try:
            open_db(db)
        except StoreError as exc:
            print(f"error: {scrub(str(exc), db_url_of(db))}", file=sys.stderr)
            return EXIT_USER_ERROR
    from xltui.app import XltuiApp

    app = XltuiApp(db_url_of(db))
    app.run()
    if app.startup_error is not None:
        print(f"error: {app.startup_error}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0
