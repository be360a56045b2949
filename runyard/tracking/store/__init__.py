"""Tracking stores and the factory that opens one from a URI.

Example:
    >>> from runyard.tracking.store import get_store
    >>> store = get_store("sqlite:////tmp/runyard.db")  # doctest: +SKIP
    >>> experiment_id = store.create_experiment("demo")  # doctest: +SKIP
"""

from __future__ import annotations

from runyard.config import resolve_tracking_uri
from runyard.errors import InvalidArgument
from runyard.tracking.store.base import TrackingStore

__all__ = ["TrackingStore", "get_store"]

_SQL_SCHEMES = ("sqlite", "postgresql", "postgres")


def get_store(uri: str | None = None) -> TrackingStore:
    """Open the tracking store at ``uri`` (else ``$RUNYARD_TRACKING_URI``, else local SQLite).

    Args:
        uri: ``sqlite:///path.db``, ``postgresql://user@host:port/db`` (``+driver`` allowed),
            or ``http(s)://host:port`` for a runyard server.

    Raises:
        InvalidArgument: the URI scheme is not one runyard knows.
        StoreUnavailable: the database cannot be reached.

    Example:
        >>> store = get_store("sqlite:////tmp/runyard.db")  # doctest: +SKIP
    """
    resolved = resolve_tracking_uri(uri)
    scheme = resolved.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme in _SQL_SCHEMES:
        from runyard.tracking.store.sql import SqlTrackingStore

        return SqlTrackingStore(resolved)
    if scheme in ("http", "https"):
        from runyard.tracking.store.rest import RestTrackingStore

        return RestTrackingStore(resolved)
    raise InvalidArgument(
        f"unknown tracking URI scheme {scheme!r} in {resolved!r}; "
        "expected sqlite://, postgresql:// or http(s)://"
    )
