"""The one place where Postgres's connection errors become sdfleet's: `RecordUnavailable`.

A statement that fails because the server is down, restarting or unreachable (SQLAlchemy's
OperationalError, InterfaceError, a pool timeout, or a connection invalidated mid-statement) may
succeed when tried again; anything else (a constraint, a bug) is not translated.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy import exc

from worker.errors import RecordUnavailable

P = ParamSpec("P")
R = TypeVar("R")


def translate_db_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Wraps a store method: connection-level database errors are raised as RecordUnavailable."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (exc.OperationalError, exc.InterfaceError, exc.TimeoutError) as error:
            raise RecordUnavailable(f"Postgres is unavailable: {_first_line(error)}") from error
        except exc.DBAPIError as error:
            if error.connection_invalidated:
                raise RecordUnavailable(f"the Postgres connection was lost: {_first_line(error)}") from error
            raise

    return wrapper


def _first_line(error: Exception) -> str:
    return str(getattr(error, "orig", None) or error).strip().splitlines()[0][:200]
