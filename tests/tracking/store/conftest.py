"""Stores for the tracking store tests: a SQLite file per test, a PostgreSQL database per session.

The PostgreSQL databases come from ``pg_database_factory`` in ``tests/conftest.py``: fresh
per session, dropped at the end; unreachable PostgreSQL fails under ``$CI``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runyard.tracking.store import TrackingStore, get_store


@pytest.fixture(scope="session")
def pg_uri(pg_database_factory: object) -> str:
    """One fresh PostgreSQL database shared by the session's conformance tests."""
    return pg_database_factory()  # type: ignore[operator, no-any-return]


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store' / 'runyard.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_uri(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_uri"))
    return str(request.getfixturevalue("pg_uri"))


@pytest.fixture
def store(store_uri: str) -> Iterator[TrackingStore]:
    s = get_store(store_uri)
    yield s
    s.close()


@pytest.fixture
def open_store() -> Iterator[Callable[..., TrackingStore]]:
    """``get_store`` for a test that opens stores itself: every store is closed at its end."""
    opened: list[TrackingStore] = []

    def open_(uri: str | None = None) -> TrackingStore:
        opened.append(get_store(uri))
        return opened[-1]

    yield open_
    for s in opened:
        s.close()
