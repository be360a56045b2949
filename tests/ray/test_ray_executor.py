"""The Ray executor passes the executor conformance suite on a real Ray cluster."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from runyard.errors import InvalidArgument
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


def _plus(results: list[int], n: int) -> int:
    return sum(results) + n


def _fail(message: str) -> int:
    raise ValueError(message)


def test_submit_after_runs_once_its_inputs_exist_with_their_results(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    ex = RayExecutor(address=ray_cluster.address)
    assert ex.chains_tasks
    gate = tmp_path / "gate"

    def slow_one() -> int:
        while not gate.exists():  # the chain is submitted while this still runs
            time.sleep(0.01)
        return 1

    first = ex.submit(slow_one)
    second = ex.submit_after(_plus, [first], 10)
    third = ex.submit_after(_plus, [first, second], 100)
    assert not third.done()
    gate.touch()
    assert (first.result(timeout=60), second.result(timeout=60)) == (1, 11)
    assert third.result(timeout=60) == 1 + 11 + 100


def test_submit_after_a_failed_task_raises_its_error_without_running(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    ex = RayExecutor(address=ray_cluster.address)
    marker = tmp_path / "ran"

    def touch(results: list[Any]) -> None:
        marker.touch()

    failed = ex.submit(_fail, "no input for you")
    after = ex.submit_after(touch, [failed])
    with pytest.raises(ValueError, match="no input for you"):
        after.result(timeout=60)
    assert not marker.exists()


def test_submit_after_gets_large_and_ray_serialized_results_intact(
    ray_cluster: RayCluster,
) -> None:
    """Results too large to pack, or from tasks Ray serialized itself, arrive as they were."""
    import ray

    ex = RayExecutor(address=ray_cluster.address)
    big = ex.submit(bytes, 100_000)  # larger than a packed result may be
    ref = ray.put(b"abc")
    raw = ex.submit(lambda refs: ray.get(refs[0]), [ref])  # a Ray object: not packed; bytes back
    joined = ex.submit_after(lambda results, n: (len(results[0]), results[1], n), [big, raw], 7)
    assert big.result(timeout=60) == bytes(100_000)
    assert raw.result(timeout=60) == b"abc"
    assert joined.result(timeout=60) == (100_000, b"abc", 7)


def test_submit_after_takes_only_this_executors_futures(ray_cluster: RayCluster) -> None:
    ex = RayExecutor(address=ray_cluster.address)
    foreign: Future[int] = Future()
    foreign.set_result(1)
    with pytest.raises(InvalidArgument, match="futures this RayExecutor returned"):
        ex.submit_after(_plus, [foreign], 1)


def test_ray_objects_in_arguments_still_travel(ray_cluster: RayCluster) -> None:
    """Arguments holding a Ray reference go through Ray's own serialization."""
    import ray

    ex = RayExecutor(address=ray_cluster.address)
    ref = ray.put([1, 2, 3])
    assert ex.submit(lambda refs: sum(ray.get(refs[0])), [ref]).result(timeout=60) == 6


def test_a_call_ray_cannot_serialize_is_refused_like_on_the_process_pool(
    ray_cluster: RayCluster,
) -> None:
    """A step closing over a lock fails with the executors' own error, not Ray's TypeError."""
    import threading

    lock = threading.Lock()

    def locked(x: int) -> int:
        with lock:
            return x

    ex = RayExecutor(address=ray_cluster.address)
    with pytest.raises(InvalidArgument, match="locked cannot be sent to a worker: .*lock"):
        ex.submit(locked, 1)
    ok = ex.submit(_plus, [1], 2)  # the executor still works
    assert ok.result(timeout=60) == 3
