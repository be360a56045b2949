"""Quick steps share their writes; yet no cache entry outruns its blob and no report its record."""

import time
from pathlib import Path
from typing import Any

import pytest

import runyard.pipelines as ry
from runyard.artifacts import ContentAddressedStore
from runyard.entities import RunStatus
from runyard.pipelines import CacheUse, StepEvent, StepStatus
from runyard.pipelines.resume import step_runs
from runyard.pipelines.runner import FLUSH_AFTER_S
from runyard.tracking.store import TrackingStore, get_store


@ry.step
def inc(x: int) -> int:
    return x + 1


@ry.step
def add_up(xs: list[int]) -> int:
    return sum(xs)


@ry.pipeline
def chain_then_fan(x: int = 0, xs: list[int] = list(range(20))):  # noqa: B006, B008
    v = x
    for _ in range(10):
        v = inc(v)
    return add_up([add_up(inc.map(x=xs)), v])


@ry.step
def finished_steps_seen(xs: list[int], db: str) -> int:
    """After a while, count from user code the finished step runs of this pipeline run."""
    time.sleep(FLUSH_AFTER_S * 5)
    store = get_store(db)
    try:
        runs = store.search_runs(
            [e.experiment_id for e in store.search_experiments().items], max_results=1000
        ).items
        return sum(
            r.tags.get("runyard.node") == "inc" and r.status is RunStatus.FINISHED for r in runs
        )
    finally:
        store.close()


@ry.pipeline
def quick_then_slow(db: str, xs: list[int] = list(range(8))):  # noqa: B006, B008
    return finished_steps_seen(inc.map(x=xs), db)


def test_no_cache_entry_is_written_before_its_blob_is_durable(
    where: dict[str, Any], store: TrackingStore, cas: ContentAddressedStore, tmp_path: Path
) -> None:
    synced: set[str] = set()
    sync_files = cas.backend.sync_files  # type: ignore[attr-defined]

    def record_sync(paths: Any) -> None:
        paths = list(paths)
        sync_files(paths)
        synced.update(paths)

    put_cache_entries = store.put_cache_entries
    entries_seen: list[str] = []

    def check_entries(entries: Any) -> None:
        import json

        for _, payload in entries:
            digest = json.loads(payload)["digest"]
            assert ContentAddressedStore.blob_path(digest) in synced, "entry before its blob"
            entries_seen.append(digest)
        put_cache_entries(entries)

    cas.backend.sync_files = record_sync  # type: ignore[attr-defined]
    store.put_cache_entries = check_entries  # type: ignore[method-assign]
    first = chain_then_fan.run(**where)
    assert len(entries_seen) == len(first.steps)  # every call was cached, none too early
    again = chain_then_fan.run(**where)
    assert again.value == first.value == sum(range(1, 21)) + 10
    assert {s.cache for s in again.steps} == {CacheUse.HIT}


@pytest.mark.parametrize("executor", ["inline", "process:2"])
def test_a_slow_step_after_quick_ones_finds_them_recorded(
    where: dict[str, Any], tmp_path: Path, executor: str
) -> None:
    db = f"sqlite:///{tmp_path / 'runyard.db'}"  # the `store` fixture's database
    result = quick_then_slow.run(db=db, executor=executor, cache=False, **where)
    # The quick steps' records were queued when the slow step started; the background
    # writer wrote them while it ran, well before it looked.
    assert result.value == 8


def test_a_step_is_reported_only_once_its_run_is_written(
    where: dict[str, Any], store: TrackingStore
) -> None:
    written_when_reported: list[bool] = []
    run_ids: dict[tuple[str, int | None], str] = {}

    def on_event(event: StepEvent) -> None:
        if event.status in (StepStatus.RUNNING,):
            return
        runs = [
            r
            for r in store.search_runs(
                [e.experiment_id for e in store.search_experiments().items], max_results=1000
            ).items
            if r.tags.get("runyard.node") == event.node_id
            and r.tags.get("runyard.map_index", "")
            == ("" if event.index is None else str(event.index))
            and r.status is RunStatus.FINISHED
        ]
        written_when_reported.append(bool(runs))
        if runs:
            run_ids[(event.node_id, event.index)] = runs[-1].run_id

    first = chain_then_fan.run(on_event=on_event, cache=False, **where)
    assert len(written_when_reported) == len(first.steps) == 32
    assert all(written_when_reported)
    again = chain_then_fan.run(on_event=on_event, cache=False, **where)
    assert len(written_when_reported) == 64 and all(written_when_reported)
    children = {r.run_id for r in step_runs(store, again.run_id)}
    assert {s.run_id for s in again.steps} == children  # every record names its written run


def test_a_fan_out_of_hits_looks_its_entries_up_in_one_query(
    where: dict[str, Any], store: TrackingStore
) -> None:
    chain_then_fan.run(**where)
    lookups: list[int] = []
    get_cache_entries = store.get_cache_entries

    def counted(keys: Any) -> dict[str, str]:
        keys = list(keys)
        lookups.append(len(keys))
        return get_cache_entries(keys)

    store.get_cache_entries = counted  # type: ignore[method-assign]
    again = chain_then_fan.run(**where)
    assert {s.cache for s in again.steps} == {CacheUse.HIT}
    assert 20 in lookups  # the 20 calls of inc.map, in one query
    assert len(lookups) == 10 + 1 + 2  # one per node: the chain, the map, the two add_ups
