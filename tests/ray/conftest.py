"""A session-scoped real Ray cluster (head on 127.0.0.2) for the Ray tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ray.cluster import RayCluster, connect, free_port


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    import ray

    # A cluster on loopback needs no tokens; saying so explicitly keeps the nodes and the
    # driver in agreement whatever ~/.ray/auth_token an earlier local ray.init() left behind.
    mp = pytest.MonkeyPatch()
    mp.setenv("RAY_AUTH_MODE", "disabled")
    tmp: Path = tmp_path_factory.mktemp("ray")
    cluster = RayCluster(port=free_port(), tmp=tmp)
    cluster.start_head(num_cpus=2)
    try:
        connect(cluster.address)
        cluster.wait_for_nodes(1)
        yield cluster
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.stop()
        mp.undo()
