"""Fixtures shared by the whole suite.

Every test gets its own project-local runyard home (a temporary folder), so embedded
defaults never touch the working tree and tests never see each other's runs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")


@pytest.fixture(autouse=True)
def runyard_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh RUNYARD_HOME per test; the tracking and artifact URIs default into it."""
    home = tmp_path / "runyard-home"
    monkeypatch.setenv("RUNYARD_HOME", str(home))
    monkeypatch.delenv("RUNYARD_TRACKING_URI", raising=False)
    monkeypatch.delenv("RUNYARD_ARTIFACT_URI", raising=False)
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
