"""What a pipeline run leaves in the tracking store: runs, params, logs, lineage, the graph."""

import dataclasses
import json
from typing import Any

import runyard.pipelines as ry
from runyard.artifacts import ContentAddressedStore
from runyard.entities import NodeKind, RunStatus
from runyard.pipelines.records import CacheUse, StepRecord, StepStatus
from runyard.pipelines.resume import step_runs
from runyard.tracking.store import TrackingStore


@ry.step
def load(n: int) -> list[int]:
    print(f"loading {n} rows")
    return list(range(n))


@ry.step
def train(data: list[int], lr: float) -> float:
    return sum(data) * lr


@ry.pipeline
def digits(n: int = 4, lrs: list[float] = [0.5, 1.0]):  # noqa: B006
    return train.map(data=ry.unmapped(load(n)), lr=lrs)


def test_a_pipeline_run_and_its_step_runs_are_tracked(
    where: dict[str, Any], store: TrackingStore, cas: ContentAddressedStore
) -> None:
    result = digits.run(n=4, experiment="tracked", **where)
    assert result.value == [3.0, 6.0]
    run = store.get_run(result.run_id)
    assert run.status is RunStatus.FINISHED
    assert run.params == {"n": "4", "lrs": "[0.5, 1.0]"}
    assert run.tags["runyard.kind"] == "pipeline"
    assert run.tags["runyard.pipeline.target"].endswith("test_tracking.py:digits")
    (graph_ref,) = store.list_artifact_refs(run.run_id, "runyard/graph.json")
    assert json.loads(cas.get_bytes(graph_ref.digest))["edges"] == [["load", "train"]]

    children = {r.name: r for r in step_runs(store, result.run_id)}
    assert set(children) == {"load", "train[0]", "train[1]"}
    assert all(c.status is RunStatus.FINISHED and c.end_time for c in children.values())
    assert children["train[1]"].params == {"lr": "1.0"}
    assert children["train[1]"].tags["runyard.map_index"] == "1"


def test_captured_stdout_is_an_artifact_of_the_step_run(
    where: dict[str, Any], store: TrackingStore, cas: ContentAddressedStore
) -> None:
    result = digits.run(n=2, **where)
    (load_rec,) = result.step("load")
    (log,) = store.list_artifact_refs(load_rec.run_id or "", "logs/stdout.txt")
    assert cas.get_bytes(log.digest) == b"loading 2 rows\n"


def test_lineage_links_an_output_to_the_steps_that_read_it(
    where: dict[str, Any], store: TrackingStore
) -> None:
    result = digits.run(n=3, **where)
    (load_rec,) = result.step("load")
    produced = store.get_lineage(load_rec.run_id or "", "downstream")
    (edge,) = produced
    assert edge.target_kind is NodeKind.ARTIFACT and edge.target_id == load_rec.output_digest
    readers = {e.target_id for e in store.get_lineage(edge.target_id, "downstream")}
    assert readers == {r.run_id for r in result.step("train")}


def test_a_search_for_step_runs_finds_cache_hits_too(
    where: dict[str, Any], store: TrackingStore
) -> None:
    first = digits.run(n=3, experiment="searched", **where)
    second = digits.run(n=3, experiment="searched", **where)
    assert [str(r.cache) for r in second.steps] == [str(second.steps[0].cache)] * 3
    assert "hit" in str(second.steps[0].cache).lower()
    exp = store.get_run(second.run_id).experiment_id
    found = store.search_runs([exp], "tags.`runyard.kind` = 'step'").items
    by_parent: dict[str | None, set[str]] = {}
    for run in found:
        by_parent.setdefault(run.parent_run_id, set()).add(run.name)
        assert run.tags["runyard.pipeline"] == store.get_run(first.run_id).tags["runyard.pipeline"]
    assert by_parent == {
        first.run_id: {"load", "train[0]", "train[1]"},
        second.run_id: {"load", "train[0]", "train[1]"},
    }


def test_a_record_given_its_run_id_keeps_every_other_field() -> None:
    values: dict[str, object] = {}
    for f in dataclasses.fields(StepRecord):  # a value unlike the default for every field
        values[f.name] = {"index": 3, "duration_s": 1.5, "attempts": 2}.get(f.name, f"x-{f.name}")
    values.update(status=StepStatus.FAILED, cache=CacheUse.MISS)
    record = StepRecord(**values)  # type: ignore[arg-type]
    assert record.with_run_id("r1") == dataclasses.replace(record, run_id="r1")
