"""The Ray executor passes the executor conformance suite on a real Ray cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runyard.executors import Resources, get_executor
from runyard.executors.ray import RayExecutor
from runyard.testing.executor import ExecutorSuite
from tests.ray.cluster import RayCluster

pytestmark = pytest.mark.slow


class TestRayExecutor(ExecutorSuite):
    __test__ = True

    @pytest.fixture(scope="class")
    def executor(self, ray_cluster: RayCluster) -> Iterator[RayExecutor]:
        ex = RayExecutor(address=ray_cluster.address)
        yield ex
        ex.shutdown()


def test_get_executor_joins_the_running_cluster(ray_cluster: RayCluster) -> None:
    ex = get_executor(f"ray:{ray_cluster.address}")
    assert isinstance(ex, RayExecutor)
    assert "ray@" in ex.describe_worker() and "1 node" in ex.describe_worker()
    assert ex.parallelism == 2


def test_custom_resource_no_node_has_fails_fast_with_the_reason(ray_cluster: RayCluster) -> None:
    ex = RayExecutor(address=ray_cluster.address)
    with pytest.raises(Exception, match="TPU=1") as info:
        ex.submit(len, "abc", resources=Resources(custom={"TPU": 1}))
    assert "largest node has 0" in str(info.value)
