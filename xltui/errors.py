"""One clear line for bad input, a non-zero exit, never a traceback.

Nothing printed here gives away a database password: a message (or, for a bug, the
traceback) is scrubbed of the password of the command's ``--db`` and of ``$XLTUI_DB``.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from typing import Callable, TypeVar

import typer

F = TypeVar("F", bound=Callable)

EXIT_USER_ERROR = 2
EXIT_BUG = 1
ERROR_PREFIX = "error: "  # before every line of a user error (the composer shows grid problems the same way)


class UserError(ValueError):
    """Something the user can fix (a flag, a name); the message says what."""


def _user_error_types() -> tuple[type[BaseException], ...]:
    # imported lazily: they live in engine modules that are not needed for --help
    from engine.data.refs import DataError
    from engine.grid.yamlfile import GridError
    from engine.runner.devices import DeviceError
    from engine.runner.slurm import SubmitError
    from engine.store.db import StoreError
    from engine.store.sharing import SharedSqliteError

    return (UserError, GridError, DataError, StoreError, DeviceError, SharedSqliteError, SubmitError)


def _urls(kwargs: dict) -> tuple[str | None, ...]:
    """The database URLs a command may have been given: its ``--db`` and ``$XLTUI_DB``."""
    from engine.settings import DB_ENV

    db = kwargs.get("db")
    return (db if isinstance(db, str) else None, os.environ.get(DB_ENV))


def handle_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            from engine.settings import scrub

            urls = _urls(kwargs)
            if isinstance(exc, _user_error_types()):
                for line in scrub(str(exc), *urls).splitlines() or [exc.__class__.__name__]:
                    print(ERROR_PREFIX + line, file=sys.stderr)
                raise typer.Exit(EXIT_USER_ERROR) from None
            # a bug (or a server gone mid-command): the traceback, as Python prints it, unless it
            # holds a password; then the same traceback with the password masked
            text = "".join(traceback.format_exception(exc))
            shown = scrub(text, *urls)
            if shown == text:
                raise
            print(shown, end="", file=sys.stderr)
            raise typer.Exit(EXIT_BUG) from None

    return wrapper  # type: ignore[return-value]
