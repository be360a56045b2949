"""The one error tree of runyard.

Every error runyard raises on purpose derives from :class:`RunyardError`::

    RunyardError
    ├── NotFound                 a run, experiment, artifact, ... does not exist
    ├── AlreadyExists            a unique name or id is taken
    ├── InvalidArgument          the caller passed something runyard refuses
    │   ├── InvalidFilter        a search filter or order_by did not parse (carries the position)
    │   ├── ParamConflict        a param was set again with a different value
    │   └── UnsafePath           an artifact path escapes its store
    ├── StoreError               a backend failed (database, object store, server)
    │   └── StoreUnavailable     a transient failure; the operation may be retried
    ├── UserCodeError            user code raised; the original traceback is kept in ``__cause__``
    └── MissingDependency        an optional extra is not installed (names the extra)

Foreign exceptions are translated at each backend's boundary with ``raise ... from e`` so
that callers only ever need to catch this tree. Surfaces map the branches in one table each:
the server to HTTP statuses, the CLI to exit codes.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "InvalidArgument",
    "InvalidFilter",
    "MissingDependency",
    "NotFound",
    "ParamConflict",
    "RunyardError",
    "StoreError",
    "StoreUnavailable",
    "UnsafePath",
    "UserCodeError",
]


class RunyardError(Exception):
    """Root of every error runyard raises on purpose."""


class NotFound(RunyardError):
    """The named object does not exist."""


class AlreadyExists(RunyardError):
    """An object with that unique name or id exists already."""


class InvalidArgument(RunyardError):
    """The caller passed a value runyard refuses; nothing was written."""


class InvalidFilter(InvalidArgument):
    """A search filter or order_by clause did not parse.

    Attributes:
        text: the filter as given.
        position: 0-based character offset of the offending token.
    """

    def __init__(self, message: str, text: str, position: int) -> None:
        self.text = text
        self.position = position
        caret = " " * position + "^"
        super().__init__(f"{message} at position {position}:\n  {text}\n  {caret}")


class ParamConflict(InvalidArgument):
    """A param that was already set was logged again with a different value."""


class UnsafePath(InvalidArgument):
    """An artifact path would escape its store (``..``, absolute, or a symlink out)."""


class StoreError(RunyardError):
    """A storage backend failed."""


class StoreUnavailable(StoreError):
    """A transient backend failure (connection refused, locked, 5xx); safe to retry."""


class UserCodeError(RunyardError):
    """User code raised. The user's exception is ``__cause__``, its traceback intact.

    Attributes:
        where: what runyard was running (a step name, a trial, a training rank).
    """

    def __init__(self, where: str, original: BaseException) -> None:
        self.where = where
        self.original = original
        super().__init__(f"{where} raised {type(original).__name__}: {original}")


class MissingDependency(RunyardError, ImportError):
    """An optional dependency is not installed.

    Attributes:
        extra: the ``runyard[extra]`` that installs it.
    """

    def __init__(self, module: str, extra: str) -> None:
        self.extra = extra
        super().__init__(
            f"{module!r} is not installed; install it with: pip install 'runyard[{extra}]'"
        )
