"""Cache hits are written in bulk, yet each is a whole tracked run, and none waits on user code."""

from pathlib import Path
from typing import Any

import pytest

import runyard.pipelines as ry
from runyard.entities import RunStatus
from runyard.pipelines import CacheUse, StepStatus
from runyard.pipelines.resume import step_runs
from runyard.tracking.store import TrackingStore, get_store


@ry.step
def double(x: int) -> int:
    return 2 * x


@ry.step
def total(xs: list[int]) -> int:
    return sum(xs)


@ry.pipeline
def doubled(xs: list[int] = list(range(50))):  # noqa: B006, B008
    return total(double.map(x=xs))


@ry.step
def hits_seen(xs: list[int], db: str, exp_name: str, token: str) -> int:
    """Count, from user code, the cache-hit runs the store already holds."""
    store = get_store(db)
    try:
        exp = store.get_experiment_by_name(exp_name)
        if exp is None:
            return -1
        runs = store.search_runs([exp.experiment_id], max_results=1000).items
        return sum(r.tags.get("runyard.cache") == "hit" for r in runs)
    finally:
        store.close()


@ry.pipeline
def hits_then_probe(db: str, exp_name: str, token: str, xs: list[int] = [0, 1, 2, 3, 4]):  # noqa: B006
    return hits_seen(double.map(x=xs), db, exp_name, token)


@ry.step
def boom(x: int, fail: bool) -> int:
    if fail:
        raise ValueError("the data is bad")
    return x


@ry.pipeline
def then_boom(fail: bool = False):
    return boom(total(double.map(x=[1, 2, 3])), fail)


def test_every_cache_hit_is_a_whole_tracked_child_run(
    where: dict[str, Any], store: TrackingStore
) -> None:
    first = doubled.run(**where)
    second = doubled.run(**where)
    assert second.value == first.value == 2450
    assert {s.cache for s in second.steps} == {CacheUse.HIT}
    children = {r.run_id: r for r in step_runs(store, second.run_id)}
    assert len(children) == len(second.steps) == 51
    for record in second.steps:
        assert record.run_id in children, record.label
        run = children[record.run_id]
        assert (run.status, run.parent_run_id) == (RunStatus.FINISHED, second.run_id)
        assert run.end_time is not None and run.end_time >= run.start_time
        assert run.tags["runyard.cache"] == "hit"
        assert run.tags["runyard.step_status"] == "CACHED"
        assert run.tags["runyard.output.digest"] == record.output_digest
        assert run.tags["runyard.cache.source_run"] in {s.run_id for s in first.steps}
        assert run.name == record.label
    assert dict(children[second.step("double")[7].run_id or ""].params) == {"x": "7"}
    assert store.get_run(second.run_id).status is RunStatus.FINISHED


@pytest.mark.parametrize("executor", ["inline", "process:2"])
def test_hits_are_in_the_store_before_user_code_runs(
    where: dict[str, Any], tmp_path: Path, executor: str
) -> None:
    db = f"sqlite:///{tmp_path / 'runyard.db'}"  # the `store` fixture's database
    kw = {"db": db, "exp_name": "probe", "experiment": "probe", "executor": executor}
    first = hits_then_probe.run(token="1", **kw, **where)
    assert first.value == 0
    second = hits_then_probe.run(token="2", **kw, **where)
    assert [s.cache for s in second.step("double")] == [CacheUse.HIT] * 5
    assert second.value == 5  # the probe step saw all five hits recorded while it ran


def test_hits_before_a_failing_step_are_recorded(
    where: dict[str, Any], store: TrackingStore
) -> None:
    then_boom.run(**where)
    failed = then_boom.run(fail=True, raise_on_failure=False, **where)
    assert failed.status is RunStatus.FAILED
    hits = [s for s in failed.steps if s.cache is CacheUse.HIT]
    assert len(hits) == 4 and all(s.status is StepStatus.CACHED for s in hits)
    recorded = {r.run_id: r for r in step_runs(store, failed.run_id)}
    for hit in hits:
        assert recorded[hit.run_id or ""].status is RunStatus.FINISHED
    (broken,) = failed.failed
    assert recorded[broken.run_id or ""].status is RunStatus.FAILED
    assert store.get_run(failed.run_id).status is RunStatus.FAILED
