"""Chains of steps on Ray: handed to the cluster ahead, with the same results and records."""

from __future__ import annotations

import json
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

import runyard as ry
from runyard.artifacts import ContentAddressedStore, open_cas
from runyard.executors.ray import RayExecutor
from runyard.pipelines import CacheUse
from runyard.tracking.store import get_store
from tests.ray.cluster import RayCluster

pytestmark = pytest.mark.slow


class CountingRayExecutor(RayExecutor):
    """A RayExecutor that counts the calls it was handed before their inputs existed."""

    chained = 0

    def submit_after(self, fn: Any, after: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        type(self).chained += 1
        return super().submit_after(fn, after, *args, **kwargs)


@pytest.fixture
def ray_executor(ray_cluster: RayCluster) -> CountingRayExecutor:
    CountingRayExecutor.chained = 0
    return CountingRayExecutor(address=ray_cluster.address)


def _ran(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def _make_chain(log: Path, fail_at: int | None = None, retries: int = 0) -> Any:
    """A diamond, then a chain of uncached steps; each call appends its name to ``log``."""

    @ry.step(cache=False)
    def start(x: int) -> int:
        with log.open("a") as f:
            f.write("start\n")
        return x

    @ry.step(cache=False, retries=retries)
    def step(x: int, k: int) -> int:
        with log.open("a") as f:
            f.write(f"step{k}\n")
        if k == fail_at and _ran(log).count(f"step{k}") == 1:
            raise ValueError(f"step {k} fails its first attempt")
        return x * 2 + k

    @ry.step(cache=False)
    def join(a: int, b: int) -> int:
        with log.open("a") as f:
            f.write("join\n")
        return a + b

    @ry.pipeline(name="chained")
    def chained(x: int = 1) -> int:
        first = start(x)
        v = join(step(first, k=100), step(first, k=200))
        for k in range(6):
            v = step(v, k=k)
        return v

    return chained


def _expected(x: int) -> int:
    v = (x * 2 + 100) + (x * 2 + 200)
    for k in range(6):
        v = v * 2 + k
    return v


def _steps(result: ry.PipelineResult) -> list[tuple[str, str | None, str]]:
    return sorted((s.node_id, s.output_digest, s.status.value) for s in result.steps)


def test_a_chain_goes_to_ray_ahead_and_gives_the_inline_result_and_records(
    ray_executor: CountingRayExecutor, tmp_path: Path
) -> None:
    on_ray = _make_chain(tmp_path / "ray.log").run(x=3, executor=ray_executor)
    inline = _make_chain(tmp_path / "inline.log").run(x=3, executor="inline")
    assert on_ray.value == inline.value == _expected(3)
    # every step after the first was handed to Ray before the steps it reads had finished
    assert CountingRayExecutor.chained == len(on_ray.steps) - 1 == 9
    assert _steps(on_ray) == _steps(inline)  # same outputs, all FINISHED
    assert sorted(_ran(tmp_path / "ray.log")) == sorted(_ran(tmp_path / "inline.log"))
    children = ry.Client().search_runs(
        ry.Client().get_run(on_ray.run_id).experiment_id,
        filter=f"parent_run_id = '{on_ray.run_id}'",
        max_results=100,
    )
    assert len(children) == 10
    assert all(c.status is ry.RunStatus.FINISHED for c in children)
    assert all(c.tags["runyard.worker"].startswith("ray node 127.0.0.2:") for c in children)


def test_a_step_retried_mid_chain_feeds_the_steps_after_it_once(
    ray_executor: CountingRayExecutor, tmp_path: Path
) -> None:
    log = tmp_path / "ran.log"
    result = _make_chain(log, fail_at=2, retries=1).run(x=1, executor=ray_executor)
    assert result.value == _expected(1)
    ran = _ran(log)
    assert ran.count("step2") == 2  # failed once, then succeeded
    # the steps after it, chained on its failed attempt, never ran their code for it
    assert all(ran.count(f"step{k}") == 1 for k in (3, 4, 5))
    attempts = {s.node_id: s.attempts for s in result.steps}
    assert sorted(attempts.values()).count(2) == 1


def test_a_failed_step_stops_the_chain_before_any_later_step_runs(
    ray_executor: CountingRayExecutor, tmp_path: Path
) -> None:
    log = tmp_path / "ran.log"
    result = _make_chain(log, fail_at=1).run(x=1, executor=ray_executor, raise_on_failure=False)
    assert result.status is ry.RunStatus.FAILED
    ran = _ran(log)
    assert "step1" in ran and not {"step2", "step3", "step4", "step5"} & set(ran)
    failed = [s for s in result.steps if s.status.value == "FAILED"]
    assert len(failed) == 5  # step 1 and the four after it
    assert sum("upstream step" in (s.error or "") for s in failed) == 4


def test_no_cache_entry_outruns_its_blob_when_the_worker_leaves_the_sync_to_the_driver(
    ray_executor: CountingRayExecutor, tmp_path: Path
) -> None:
    """Workers on the driver's machine write outputs without fsync; the driver syncs them."""
    store = get_store(f"sqlite:///{tmp_path / 'runyard.db'}")
    cas = open_cas(str(tmp_path / "artifacts"))
    synced: set[str] = set()
    sync_files = cas.backend.sync_files  # type: ignore[attr-defined]

    def record_sync(paths: Any, **kwargs: Any) -> None:
        paths = list(paths)
        sync_files(paths, **kwargs)
        synced.update(paths)

    entries: list[str] = []
    put_cache_entries = store.put_cache_entries

    def check_entries(batch: Any) -> None:
        for _, payload in batch:
            blob = ContentAddressedStore.blob_path(json.loads(payload)["digest"])
            assert blob in synced, "a cache entry was written before its blob was durable"
            entries.append(blob)
        put_cache_entries(batch)

    cas.backend.sync_files = record_sync  # type: ignore[attr-defined]
    store.put_cache_entries = check_entries  # type: ignore[method-assign]

    @ry.step
    def double(x: int) -> int:
        return 2 * x

    @ry.pipeline(name="doubles")
    def doubles(x: int = 1) -> int:
        for _ in range(4):
            x = double(x)
        return x

    try:
        first = doubles.run(x=1, executor=ray_executor, store=store, artifacts=cas)
        assert first.value == 16 and len(entries) == 4  # each written after its blob's sync
        assert CountingRayExecutor.chained == 0  # cached steps are never chained ahead
        again = doubles.run(x=1, executor=ray_executor, store=store, artifacts=cas)
        assert again.value == 16
        assert {s.cache for s in again.steps} == {CacheUse.HIT}
    finally:
        store.close()
