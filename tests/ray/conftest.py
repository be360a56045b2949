"""A session-scoped real Ray cluster (head on 127.0.0.2) for the Ray tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ray.cluster import RayCluster, running_cluster


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    with running_cluster(tmp_path_factory.mktemp("ray")) as cluster:
        yield cluster
