"""Fan-outs packed into chunks on a real Ray cluster: per-call results, failures and retries."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

import runyard as ry
from runyard.executors.ray import RayExecutor
from tests.ray.cluster import RayCluster

pytestmark = pytest.mark.slow


def _task_id() -> str:
    import ray

    return str(ray.get_runtime_context().get_task_id())


def tagged_square(x: int) -> tuple[int, str]:
    return x * x, _task_id()


def nap_then_tag(seconds: float) -> str:
    time.sleep(seconds)
    return _task_id()


def picky(x: int) -> int:
    if x == 57:
        raise KeyError(f"no {x}")
    return x + 1


@pytest.fixture
def ray_executor(ray_cluster: RayCluster) -> RayExecutor:
    return RayExecutor(address=ray_cluster.address)


def test_fast_calls_share_tasks_and_each_keeps_its_own_result(
    ray_executor: RayExecutor,
) -> None:
    futures = ray_executor.submit_many(tagged_square, [((x,), {}) for x in range(2000)])
    results = [f.result(timeout=120) for f in futures]
    assert [value for value, _ in results] == [x * x for x in range(2000)]
    tasks = {task for _, task in results}
    assert len(tasks) < 200, f"2000 fast calls ran as {len(tasks)} Ray tasks"


def test_slow_calls_each_get_a_task_of_their_own(ray_executor: RayExecutor) -> None:
    futures = ray_executor.submit_many(nap_then_tag, [((0.5,), {}) for _ in range(6)])
    tasks = [f.result(timeout=120) for f in futures]
    assert len(set(tasks)) == 6  # never queued behind one another inside one task


def test_a_failing_call_fails_alone(ray_executor: RayExecutor) -> None:
    futures = ray_executor.submit_many(picky, [((x,), {}) for x in range(300)])
    for x, future in enumerate(futures):
        if x == 57:
            with pytest.raises(KeyError, match="no 57"):
                future.result(timeout=120)
        else:
            assert future.result(timeout=120) == x + 1


def test_a_worker_killed_mid_chunk_reruns_only_the_calls_it_had_not_finished(
    ray_executor: RayExecutor, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    killed = tmp_path / "killed"
    settled = tmp_path / "settled"  # the driver marks each call whose outcome it has
    settled.mkdir()

    def record(x: int) -> int:
        task = _task_id()
        (runs / f"{x}-{task}-{os.getpid()}").touch()
        in_this_task = [p for p in runs.iterdir() if f"-{task}-" in p.name]
        if x >= 150 and len(in_this_task) > 1 and not killed.exists():
            killed.write_text(f"{x} {task}")
            # kill only once the outcomes of the calls before this one reached the driver
            before = {p.name.split("-")[0] for p in in_this_task} - {str(x)}
            deadline = time.monotonic() + 60
            while not before <= set(os.listdir(settled)) and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(os.getpid(), signal.SIGKILL)
        return 2 * x

    futures = ray_executor.submit_many(record, [((x,), {}) for x in range(300)])
    for x, future in enumerate(futures):
        future.add_done_callback(lambda _f, x=x: (settled / str(x)).touch())
    assert [f.result(timeout=180) for f in futures] == [2 * x for x in range(300)]
    assert killed.exists(), "no chunk was ever killed"
    victim, killed_task = killed.read_text().split()
    ran: dict[int, list[str]] = {}
    for p in runs.iterdir():
        x, task, _ = p.name.split("-")
        ran.setdefault(int(x), []).append(task)
    assert sorted(ran) == list(range(300))
    # the call that was running when its worker died ran again; so did the ones after it in
    # that chunk, which had never started; the calls the chunk had finished did not
    twice = {x for x, tasks in ran.items() if len(tasks) > 1}
    assert twice == {int(victim)}
    finished_in_killed = [x for x, tasks in ran.items() if tasks == [killed_task]]
    assert finished_in_killed, "the killed chunk had finished calls before the kill"


@ry.step
def numbers(n: int) -> list[int]:
    return list(range(n))


@ry.step
def checked(x: int) -> int:
    if x == 13:
        raise ValueError("unlucky")
    return x * 3


@ry.step
def summed(xs: list[int]) -> int:
    return sum(xs)


@ry.step
def doubled(n: int) -> int:
    return 2 * n


@ry.pipeline
def two_branches(n: int = 40) -> tuple[int, int]:
    return summed(checked.map(x=numbers(n))), doubled(n)


def test_a_failing_fan_out_item_fails_only_itself_and_its_dependents(
    ray_executor: RayExecutor,
) -> None:
    on_ray = two_branches.run(n=200, executor=ray_executor, cache=False, raise_on_failure=False)
    inline = two_branches.run(n=200, executor="inline", cache=False, raise_on_failure=False)

    def outcome(result: ry.PipelineResult) -> list[tuple[str, int | None, str]]:
        return sorted((s.node_id, s.index, s.status.value) for s in result.steps)  # type: ignore[arg-type]

    assert outcome(on_ray) == outcome(inline)
    statuses = {(s.node_id, s.index): s.status.value for s in on_ray.steps}
    failed = [key for key, status in statuses.items() if status == "FAILED"]
    assert sorted(failed, key=str) == sorted([("checked", 13), ("summed", None)], key=str)
    assert statuses[("doubled", None)] == "FINISHED"
    assert (
        sum(1 for s in on_ray.steps if s.node_id == "checked" and s.status.value == "FINISHED")
        == 199
    )


def test_a_fan_out_whose_worker_is_killed_mid_chunk_gives_the_inline_result(
    ray_executor: RayExecutor, tmp_path: Path
) -> None:
    marker = tmp_path / "killed-once"

    @ry.step
    def fragile(x: int) -> int:
        if x == 300 and not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return x * x

    @ry.pipeline
    def fan(n: int = 10) -> int:
        return summed(fragile.map(x=numbers(n)))

    on_ray = fan.run(n=500, executor=ray_executor, cache=False)
    assert marker.exists()  # a worker really died mid-run
    inline = fan.run(n=500, executor="inline", cache=False)
    assert on_ray.value == inline.value == sum(x * x for x in range(500))

    def digests(result: ry.PipelineResult) -> list[tuple[str, int | None, str | None]]:
        return sorted((s.node_id, s.index, s.output_digest) for s in result.steps)  # type: ignore[arg-type]

    assert digests(on_ray) == digests(inline)
    # each step call is one tracked run, whatever chunk it ran in
    assert all(s.status.value == "FINISHED" and s.run_id for s in on_ray.steps)
