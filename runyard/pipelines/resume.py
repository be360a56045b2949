"""Resuming a pipeline run: what the earlier run finished, and with which parameters."""

from __future__ import annotations

import json
from typing import Any

from runyard.entities import RunStatus
from runyard.errors import InvalidArgument
from runyard.pipelines._recorder import TAG
from runyard.pipelines.graph import Graph
from runyard.tracking.store.base import TrackingStore

__all__ = ["load_resume", "step_runs"]


def step_runs(store: TrackingStore, pipeline_run_id: str) -> list[Any]:
    """The step runs (child runs) of a pipeline run, oldest first."""
    parent = store.get_run(pipeline_run_id)
    runs: list[Any] = []
    token: str | None = None
    while True:
        page = store.search_runs(
            [parent.experiment_id],
            f"attributes.parent_run_id = '{pipeline_run_id}'",
            order_by=["start_time asc"],
            max_results=1000,
            page_token=token,
        )
        runs.extend(page.items)
        token = page.next_page_token
        if token is None:
            return runs


def load_resume(
    store: TrackingStore, run_id: str, graph: Graph
) -> tuple[dict[str, Any], dict[tuple[str, int | None], tuple[str, str, str]]]:
    """The parameters of an earlier run and the outputs of the step calls it finished.

    Raises:
        NotFound: no such run.
        InvalidArgument: the run is not a run of this pipeline.
    """
    run = store.get_run(run_id)
    if run.tags.get(TAG.KIND) != "pipeline" or run.tags.get(TAG.PIPELINE) != graph.name:
        raise InvalidArgument(f"run {run_id} is not a run of pipeline {graph.name!r}")
    params: dict[str, Any] = {}
    for name, text in run.params.items():
        try:
            params[name] = json.loads(text)
        except ValueError:
            params[name] = text
    known = {n.node_id for n in graph.nodes}
    finished: dict[tuple[str, int | None], tuple[str, str, str]] = {}
    for step in step_runs(store, run_id):
        node = step.tags.get(TAG.NODE)
        digest = step.tags.get(TAG.OUTPUT_DIGEST)
        serializer = step.tags.get(TAG.OUTPUT_SERIALIZER)
        if (
            step.status is not RunStatus.FINISHED
            or node not in known
            or not digest
            or not serializer
        ):
            continue
        index_text = step.tags.get(TAG.MAP_INDEX)
        finished[(node, int(index_text) if index_text else None)] = (
            digest,
            serializer,
            step.run_id,
        )
    return params, finished
