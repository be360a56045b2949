"""The SQL tracking store (SQLite and PostgreSQL) and its schema migrations.

Example:
    >>> from runyard.tracking.store.sql import SqlTrackingStore
    >>> store = SqlTrackingStore("sqlite:////tmp/runyard.db")  # doctest: +SKIP
"""

from runyard.tracking.store.sql.store import SqlTrackingStore

__all__ = ["SqlTrackingStore"]
