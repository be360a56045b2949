"""The one place where database errors become runyard errors.

Every public method of the SQL store runs inside :func:`translate_errors`; nothing from
SQLAlchemy or the drivers escapes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from runyard.errors import AlreadyExists, RunyardError, StoreError, StoreUnavailable

__all__ = ["is_unique_violation", "translate_errors"]

_TRANSIENT = (
    "database is locked",
    "database table is locked",
    "connection refused",
    "could not connect",
    "server closed the connection",
    "connection timeout",
    "terminating connection",
    "deadlock detected",
    "could not serialize access",
    "the database system is starting up",
    "the database system is shutting down",
)


def is_unique_violation(error: BaseException) -> bool:
    """True when ``error`` is a unique or primary-key constraint violation."""
    if not isinstance(error, sa.exc.IntegrityError):
        return False
    text = str(error.orig).lower()
    return "unique" in text or "duplicate key" in text


@contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Re-raise database errors as :class:`~runyard.errors.StoreError` and its branches.

    Args:
        what: the operation, for the message (``"log_batch"``).
    """
    try:
        yield
    except RunyardError:
        raise
    except sa.exc.IntegrityError as e:
        if is_unique_violation(e):
            raise AlreadyExists(f"{what}: {e.orig}") from e
        raise StoreError(f"{what}: {e.orig}") from e
    except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError) as e:
        text = str(getattr(e, "orig", e)).lower()
        if isinstance(e, sa.exc.TimeoutError) or any(t in text for t in _TRANSIENT):
            raise StoreUnavailable(f"{what}: {getattr(e, 'orig', e)}") from e
        raise StoreError(f"{what}: {getattr(e, 'orig', e)}") from e
    except sa.exc.DBAPIError as e:
        if e.connection_invalidated:
            raise StoreUnavailable(f"{what}: {e.orig}") from e
        raise StoreError(f"{what}: {e.orig}") from e
    except sa.exc.SQLAlchemyError as e:
        raise StoreError(f"{what}: {e}") from e
