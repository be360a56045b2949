"""Pipelines on a real Ray cluster on loopback: same results, lost workers and nodes survived."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

import runyard as ry
from runyard.executors.ray import RayExecutor
from tests.ray.cluster import RayCluster

pytestmark = pytest.mark.slow


@ry.step
def load(n: int) -> list[int]:
    return list(range(n))


@ry.step
def square(x: int) -> int:
    return x * x


@ry.step
def total(xs: list[int]) -> int:
    return sum(xs)


@ry.pipeline
def squares(n: int = 6) -> int:
    return total(square.map(x=load(n)))


@pytest.fixture
def ray_executor(ray_cluster: RayCluster) -> RayExecutor:
    return RayExecutor(address=ray_cluster.address)


def test_a_pipeline_on_ray_gives_the_inline_result_and_is_tracked(
    ray_executor: RayExecutor,
) -> None:
    on_ray = squares.run(n=8, executor=ray_executor, cache=False)
    inline = squares.run(n=8, executor="inline", cache=False)
    assert on_ray.value == inline.value == sum(i * i for i in range(8))
    run = ry.Client().get_run(on_ray.run_id)
    assert run.status is ry.RunStatus.FINISHED
    children = ry.Client().search_runs(
        run.experiment_id, filter=f"parent_run_id = '{on_ray.run_id}'", max_results=100
    )
    assert len(children) == 1 + 8 + 1  # load, 8 squares, total
    assert all(c.status is ry.RunStatus.FINISHED for c in children)
    # every step says where it ran: a Ray worker on the head node, not the driver
    assert all(c.tags["runyard.worker"].startswith("ray node 127.0.0.2:") for c in children)

    def digests(result: ry.PipelineResult) -> list[tuple[str, int | None, str | None]]:
        return sorted((s.node_id, s.index, s.output_digest) for s in result.steps)  # type: ignore[arg-type]

    assert digests(on_ray) == digests(inline)


def test_a_worker_killed_mid_step_is_retried_and_the_run_finishes(
    ray_executor: RayExecutor, tmp_path: Path
) -> None:
    marker = tmp_path / "killed-once"

    @ry.step
    def fragile(x: int) -> int:
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return x + 1

    @ry.pipeline
    def once(x: int = 1) -> int:
        return fragile(x)

    result = once.run(x=41, executor=ray_executor, cache=False)
    assert result.value == 42
    assert marker.exists()  # the first attempt really died


def test_a_step_asking_for_more_than_the_cluster_has_fails_fast(
    ray_executor: RayExecutor,
) -> None:
    @ry.step(cpus=64)
    def greedy() -> int:
        return 1

    @ry.pipeline
    def big() -> int:
        return greedy()

    result = big.run(executor=ray_executor, raise_on_failure=False, cache=False)
    [record] = [s for s in result.steps if s.node_id.startswith("greedy")]
    assert record.status.value == "FAILED"
    assert "CPU=64" in (record.error or "")


def test_a_worker_node_stopped_mid_run_is_survived(
    ray_cluster: RayCluster, ray_executor: RayExecutor, tmp_path: Path
) -> None:
    """Two nodes; the second is stopped while steps run on it; they finish on the head."""
    node = ray_cluster.add_node(num_cpus=2)
    ray_cluster.wait_for_nodes(2)
    attempts = tmp_path / "attempts"
    attempts.mkdir()

    @ry.step
    def slow_square(x: int) -> int:
        import ray

        ip = ray.util.get_node_ip_address()
        (attempts / f"{x}-{ip}-{os.getpid()}").touch()
        time.sleep(4)
        return x * x

    @ry.pipeline
    def fan(n: int = 8) -> int:
        return total(slow_square.map(x=load(n)))

    def stop_second_node() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(node.ip in p.name for p in attempts.iterdir()):
                time.sleep(1.0)
                node.stop(grace=0)
                return
            time.sleep(0.2)

    killer = threading.Thread(target=stop_second_node)
    killer.start()
    try:
        result = fan.run(n=8, executor=ray_executor, cache=False)
    finally:
        killer.join()
        if node in ray_cluster.nodes:
            ray_cluster.nodes.remove(node)
    assert result.value == sum(i * i for i in range(8))
    names = [p.name for p in attempts.iterdir()]
    on_second = {n.split("-")[0] for n in names if node.ip in n}
    assert on_second, "no step ever ran on the second node"
    # every step that was on the lost node ran again, on the head
    for x in on_second:
        assert any(n.startswith(f"{x}-127.0.0.2-") for n in names), names


def test_the_cli_runs_a_pipeline_on_the_cluster(ray_cluster: RayCluster, tmp_path: Path) -> None:
    import subprocess
    import textwrap

    script = tmp_path / "flow.py"
    script.write_text(
        textwrap.dedent(
            """
            import runyard as ry

            @ry.step
            def double(x: int) -> int:
                return 2 * x

            @ry.step
            def add(xs: list[int]) -> int:
                return sum(xs)

            @ry.step
            def upto(n: int) -> list[int]:
                return list(range(n))

            @ry.pipeline
            def flow(n: int = 3) -> int:
                return add(double.map(x=upto(n)))
            """
        )
    )
    env = {
        **os.environ,
        "RUNYARD_RAY_NODE_IP": "127.0.0.2",
        "RAY_AUTH_MODE": "disabled",
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [
            "runyard",
            "run",
            f"{script}:flow",
            "-p",
            "n=5",
            "--executor",
            "ray",
            "--ray-address",
            ray_cluster.address,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "value: 20" in done.stdout
    assert "FINISHED" in done.stdout


def test_custom_resources_reach_ray(ray_cluster: RayCluster, ray_executor: RayExecutor) -> None:
    node = ray_cluster.add_node(num_cpus=1, resources={"accelerator_x": 1})
    ray_cluster.wait_for_nodes(2)
    try:

        @ry.step(resources={"accelerator_x": 1})
        def special() -> str:
            import ray

            return str(ray.util.get_node_ip_address())

        @ry.step(resources={"accelerator_y": 1})
        def impossible() -> int:
            return 1

        @ry.pipeline
        def needs_x() -> str:
            return special()

        @ry.pipeline
        def needs_y() -> int:
            return impossible()

        assert needs_x.run(executor=ray_executor, cache=False).value == node.ip
        failed = needs_y.run(executor=ray_executor, raise_on_failure=False, cache=False)
        [record] = failed.steps
        assert record.status.value == "FAILED"
        assert "accelerator_y=1" in (record.error or "")
    finally:
        node.stop()
        ray_cluster.nodes.remove(node)
