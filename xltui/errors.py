"""One clear line for bad input, a non-zero exit, never a traceback."""

from __future__ import annotations

import functools
import sys
from typing import Callable, TypeVar

import typer

F = TypeVar("F", bound=Callable)

EXIT_USER_ERROR = 2


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


def handle_errors(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            if isinstance(exc, _user_error_types()):
                for line in str(exc).splitlines() or [exc.__class__.__name__]:
                    print(f"error: {line}", file=sys.stderr)
                raise typer.Exit(EXIT_USER_ERROR) from None
            raise

    return wrapper  # type: ignore[return-value]
