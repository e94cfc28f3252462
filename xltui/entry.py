"""The `xltui` command: the app without Typer, every other command through the Typer CLI.

``xltui`` alone (or with only ``--db``) goes straight to ``xltui.launch.open_app``; the
Typer CLI (``xltui.cli``) is imported only for a command.
"""

from __future__ import annotations

import sys

from xltui.launch import app_only, open_app


def main() -> None:
    only, db = app_only(sys.argv[1:])
    if only:
        sys.exit(open_app(db))
    from xltui.cli import app

    app(prog_name="xltui")


if __name__ == "__main__":
    main()
