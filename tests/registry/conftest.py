"""Digits data, small models trained on it, and the tracking store the registry lives in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest


@pytest.fixture(scope="session")
def sk_model(digits: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]) -> Any:
    from sklearn.linear_model import LogisticRegression

    x, y = digits
    return LogisticRegression(max_iter=300).fit(x, y)


@pytest.fixture(params=["sqlite", "postgresql"])
def tracking_store(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """Runs every registry test on SQLite (the embedded default) and on PostgreSQL.

    The registry lives in the tracking store, so versions, aliases, tags and lineage must
    behave the same on both. PostgreSQL gets a fresh database per test from
    ``pg_database_factory`` (skipped when the server is unreachable and ``$CI`` is unset).
    """
    if request.param == "postgresql":
        factory: Callable[[], str] = request.getfixturevalue("pg_database_factory")
        monkeypatch.setenv("RUNYARD_TRACKING_URI", factory())
    yield request.param
