"""Stores for the tracking store tests: a SQLite file per test, a PostgreSQL database per session.

The PostgreSQL database is created fresh (``runyard_test_<random>``) so parallel test runs
never collide, and dropped at the end. When the server is unreachable the PostgreSQL tests
fail if ``$CI`` is set and skip otherwise.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from runyard.tracking.store import TrackingStore, get_store

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def _admin_engine() -> sa.Engine:
    return sa.create_engine(f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_database_factory() -> Iterator[object]:
    """A callable that creates a fresh database and returns its URI; all dropped at the end."""
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as e:
        admin.dispose()
        reason = f"PostgreSQL at 127.0.0.1:5432 is unreachable: {e.orig}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason + " (set CI=1 to make this a failure)")
    created: list[str] = []

    def create() -> str:
        name = f"runyard_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return f"postgresql://postgres@127.0.0.1:5432/{name}"

    yield create
    from runyard.tracking.store.sql import engine as engines

    for engine in list(engines._engines.values()):
        engine.dispose()
    with admin.connect() as conn:
        for name in created:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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
