"""Stores for the sweep tests (a SQLite file per test, PostgreSQL databases), and a Ray cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.ray.cluster import RayCluster, connect, running_cluster


@pytest.fixture
def sqlite_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sweeps.db'}"


@pytest.fixture(scope="session")
def pg_sweep_database(pg_database_factory: Callable[[], str]) -> Callable[[], str]:
    """Creates fresh PostgreSQL databases (the shared factory in tests/conftest.py)."""
    return pg_database_factory


@pytest.fixture(scope="module")
def sweep_ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    """A real Ray cluster on loopback (head on 127.0.0.2, 2 CPUs) for one test module.

    The driver can be connected to one Ray only; when the tests/ray session cluster is
    already connected, that connection is set aside for this module and restored after.
    """
    import ray

    previous = ray.get_runtime_context().gcs_address if ray.is_initialized() else None
    if previous is not None:
        ray.shutdown()
    try:
        with running_cluster(tmp_path_factory.mktemp("ray-sweeps")) as cluster:
            yield cluster
    finally:
        if previous is not None:
            connect(previous)
