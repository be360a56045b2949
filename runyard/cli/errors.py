"""The one table that maps runyard errors to CLI exit codes and one-line headlines."""

from __future__ import annotations

from runyard.errors import (
    AlreadyExists,
    InvalidArgument,
    MissingDependency,
    NotFound,
    RunyardError,
    StoreError,
    UserCodeError,
)

__all__ = ["EXIT_CODES", "exit_code_for"]

# Most specific first; the first match wins.
EXIT_CODES: tuple[tuple[type[RunyardError], int, str], ...] = (
    (NotFound, 3, "not found"),
    (AlreadyExists, 4, "already exists"),
    (InvalidArgument, 2, "invalid argument"),
    (MissingDependency, 5, "missing dependency"),
    (StoreError, 6, "store error"),
    (UserCodeError, 7, "user code failed"),
    (RunyardError, 1, "error"),
)


def exit_code_for(error: RunyardError) -> tuple[int, str]:
    """Return (exit code, headline label) for an error."""
    for kind, code, label in EXIT_CODES:
        if isinstance(error, kind):
            return code, label
    return 1, "error"
