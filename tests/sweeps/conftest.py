"""Stores for the sweep tests: a SQLite file per test, a PostgreSQL database per session."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sweeps.db'}"


@pytest.fixture(scope="session")
def pg_sweep_database() -> Iterator[Callable[[], str]]:
    """Creates fresh PostgreSQL databases; drops them at the end of the session."""
    admin = sa.create_engine(f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as e:
        admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is unreachable: {e.orig}")
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is unreachable: {e.orig}")
    created: list[str] = []

    def create() -> str:
        name = f"runyard_sweeps_{uuid.uuid4().hex[:12]}"
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
