"""Stores for the sweep tests: a SQLite file per test, a PostgreSQL database per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sweeps.db'}"


@pytest.fixture(scope="session")
def pg_sweep_database(pg_database_factory: Callable[[], str]) -> Callable[[], str]:
    """Creates fresh PostgreSQL databases (the shared factory in tests/conftest.py)."""
    return pg_database_factory
