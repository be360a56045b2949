"""Fixtures shared by the whole suite.

Every test gets its own project-local runyard home (a temporary folder), so embedded
defaults never touch the working tree and tests never see each other's runs.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")


@contextlib.contextmanager
def _closing_cached_stores() -> Iterator[None]:
    """Close the stores ``ry.Client`` and ``ry.start_run`` opened for new URIs inside.

    They keep one open store (a connection pool) per URI for the life of the process; a
    test's URIs are its own database files, so without this their pools pile up over the
    suite.
    """
    from runyard.tracking.client import client

    cached_before = set(client._STORES)
    yield
    with client._STORES_LOCK:
        opened = [client._STORES.pop(k) for k in list(client._STORES) if k not in cached_before]
    for store in opened:
        store.close()


@pytest.fixture(autouse=True, scope="module")
def _close_module_stores() -> Iterator[None]:
    """Stores that a module's shared fixtures opened are closed when the module ends.

    (A session-scoped fixture that opened a store through the client would see it closed
    at the end of the module that first used it; none does.)
    """
    with _closing_cached_stores():
        yield


@pytest.fixture(autouse=True)
def runyard_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh RUNYARD_HOME per test; the tracking and artifact URIs default into it.

    The stores the test opened through ``ry.Client`` or ``ry.start_run`` close at its end.
    """
    home = tmp_path / "runyard-home"
    monkeypatch.setenv("RUNYARD_HOME", str(home))
    monkeypatch.delenv("RUNYARD_TRACKING_URI", raising=False)
    monkeypatch.delenv("RUNYARD_ARTIFACT_URI", raising=False)
    with _closing_cached_stores():
        yield home


PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


@pytest.fixture(scope="session")
def pg_database_factory() -> Iterator[Callable[[], str]]:
    """Creates fresh PostgreSQL databases (``runyard_test_<random>``); drops them at the end.

    Each test session works in databases of its own, so parallel runs never collide. When
    the server on 127.0.0.1:5432 is unreachable, PostgreSQL tests fail if ``$CI`` is set
    and skip otherwise.
    """
    import sqlalchemy as sa

    admin = sa.create_engine(f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT")
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
def digits() -> tuple[Any, Any]:
    """scikit-learn's bundled digits: float32 features in [0, 1], int64 labels."""
    import numpy as np
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y.astype(np.int64)


@pytest.fixture(scope="session")
def torch_mlp(digits: tuple[Any, Any]) -> Any:
    """A small MLP trained on digits in a second or two (seeded, deterministic on CPU)."""
    import torch

    torch.manual_seed(0)
    x, y = digits
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xt), yt).backward()
        opt.step()
    return net.eval()
