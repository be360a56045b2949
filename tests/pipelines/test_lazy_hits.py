"""Cache hits read an output only when it is needed, and never use one that is gone or corrupt."""

from pathlib import Path
from typing import Any

import numpy as np

import runyard.pipelines as ry
from runyard.artifacts import ContentAddressedStore
from runyard.pipelines import CacheUse, StepStatus
from runyard.pipelines.resume import step_runs
from runyard.pipelines.why import explain
from runyard.tracking.store import TrackingStore


@ry.step
def first(n: int) -> list[int]:
    return list(range(n))


@ry.step
def double(xs: list[int]) -> list[int]:
    return [2 * x for x in xs]


@ry.step
def total(xs: list[int], k: int) -> int:
    return sum(xs) * k


@ry.pipeline
def chain(n: int = 4, k: int = 1):
    return total(double(first(n)), k)


@ry.step
def square(x: int) -> int:
    return x * x


@ry.pipeline
def fan(n: int = 3, k: int = 1):
    return total(square.map(x=first(n)), k)


@ry.step
def dataset(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.float64)


@ry.step
def scaled_sum(data: np.ndarray, k: float) -> float:
    return float(data.sum() * k)


@ry.pipeline
def sweep(n: int = 4, ks: list[float] = [1.0, 2.0]):  # noqa: B006
    return scaled_sum.map(data=dataset(n), k=ks)


def _blob(cas: ContentAddressedStore, result: ry.PipelineResult, label: str) -> Path:
    node, _, index = label.partition("[")
    records = result.step(node)
    record = records[int(index.rstrip("]"))] if index else records[0]
    assert record.output_digest
    path: Path = cas.backend.root / cas.blob_path(record.output_digest)  # type: ignore[attr-defined]
    return path


def _uses(result: ry.PipelineResult) -> dict[str, tuple[StepStatus, CacheUse]]:
    return {s.label: (s.status, s.cache) for s in result.steps}


def test_a_chain_of_hits_needs_only_the_output_it_returns(
    where: dict[str, Any], cas: ContentAddressedStore
) -> None:
    ran = chain.run(**where)
    _blob(cas, ran, "first").unlink()
    _blob(cas, ran, "double").unlink()
    again = chain.run(**where)
    assert again.value == ran.value == 12
    assert all(s.cache is CacheUse.HIT for s in again.steps)


def test_a_step_whose_input_is_gone_from_the_store_runs_again(
    where: dict[str, Any], cas: ContentAddressedStore, store: TrackingStore
) -> None:
    ran = chain.run(**where)
    _blob(cas, ran, "double").unlink()
    again = chain.run(k=2, **where)  # total runs, and needs double's output
    assert again.value == 24
    assert _uses(again) == {
        "first": (StepStatus.CACHED, CacheUse.HIT),
        "double": (StepStatus.FINISHED, CacheUse.MISS),
        "total": (StepStatus.FINISHED, CacheUse.MISS),
    }
    runs = step_runs(store, again.run_id)
    assert sorted(r.name for r in runs) == ["double", "first", "total"]
    redo = next(r for r in runs if r.name == "double")
    assert "could not be read" in redo.tags["runyard.cache.reason"]
    (why,) = explain(store, again.run_id, "double")
    assert "the cached output was missing or unreadable" in why.lines()[0]
    third = chain.run(k=2, **where)  # the entry points at the output stored again
    assert third.value == 24
    assert all(s.cache is CacheUse.HIT for s in third.steps)


def test_a_corrupt_output_is_never_used_its_step_runs_again(
    where: dict[str, Any], cas: ContentAddressedStore
) -> None:
    ran = chain.run(**where)
    blob = _blob(cas, ran, "double")
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes().replace(b"2", b"9"))  # same size, other content
    again = chain.run(k=3, **where)
    assert again.value == 36
    assert again.step("double")[0].status is StepStatus.FINISHED


def test_a_returned_output_that_is_gone_is_computed_again(
    where: dict[str, Any], cas: ContentAddressedStore
) -> None:
    ran = chain.run(**where)
    _blob(cas, ran, "total").unlink()
    again = chain.run(**where)
    assert again.value == 12
    assert _uses(again)["total"] == (StepStatus.FINISHED, CacheUse.MISS)
    assert _uses(again)["double"] == (StepStatus.CACHED, CacheUse.HIT)


def test_outputs_gone_one_after_another_run_again_in_order(
    where: dict[str, Any], cas: ContentAddressedStore, store: TrackingStore
) -> None:
    ran = chain.run(**where)
    for label in ("first", "double"):
        _blob(cas, ran, label).unlink()
    again = chain.run(k=5, **where)
    assert again.value == 60
    assert [s.label for s in again.steps] == ["first", "double", "total"]
    assert all(s.status is StepStatus.FINISHED for s in again.steps)
    # `first` was reported a hit before `double` turned out to need it: that run says so.
    runs = step_runs(store, again.run_id)
    taken_back = [r for r in runs if r.tags.get("runyard.step_status") == "FAILED"]
    assert [r.name for r in taken_back] == ["first"]
    assert "could not be read" in taken_back[0].tags["runyard.error"]
    assert {s.run_id for s in again.steps} <= {r.run_id for r in runs}


def test_a_map_over_a_hit_reads_the_list_it_fans_out_over(
    where: dict[str, Any], cas: ContentAddressedStore
) -> None:
    ran = fan.run(**where)
    assert ran.value == 5
    again = fan.run(k=2, **where)
    assert again.value == 10
    assert [s.cache for s in again.step("square")] == [CacheUse.HIT] * 3
    _blob(cas, ran, "first").unlink()
    _blob(cas, ran, "square[1]").unlink()
    third = fan.run(k=3, **where)
    assert third.value == 15
    assert [s.status for s in third.step("square")] == [
        StepStatus.CACHED,
        StepStatus.FINISHED,
        StepStatus.CACHED,
    ]
    assert third.step("first")[0].status is StepStatus.FINISHED


def test_why_compares_a_miss_with_an_earlier_hit(
    where: dict[str, Any], store: TrackingStore
) -> None:
    chain.run(k=1, **where)
    hit = chain.run(k=1, **where)
    changed = chain.run(k=7, **where)
    (why,) = explain(store, changed.run_id, "total")
    assert why.previous_run_id == hit.step("total")[0].run_id
    assert why.lines()[1:] == ["  - param 'k' changed: 1 -> 7"]


def test_a_map_of_hits_over_whole_data_does_not_read_the_data(
    where: dict[str, Any], cas: ContentAddressedStore
) -> None:
    ran = sweep.run(**where)
    assert ran.value == [6.0, 12.0]
    _blob(cas, ran, "dataset").unlink()
    again = sweep.run(**where)  # an array is never fanned out over: its content is not needed
    assert again.value == [6.0, 12.0]
    assert all(s.cache is CacheUse.HIT for s in again.steps)
    more = sweep.run(ks=[1.0, 3.0], **where)  # scaled_sum[1] runs: it needs the data
    assert more.value == [6.0, 18.0]
    assert _uses(more)["dataset"] == (StepStatus.FINISHED, CacheUse.MISS)
    assert _uses(more)["scaled_sum[0]"] == (StepStatus.CACHED, CacheUse.HIT)
