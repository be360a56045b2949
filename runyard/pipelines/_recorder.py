"""Recording a pipeline run and its step runs in the tracking store and artifact store."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from runyard.artifacts import ContentAddressedStore
from runyard.entities import ArtifactRef, LineageEdge, NodeKind, RunStatus
from runyard.errors import AlreadyExists
from runyard.tracking.store.base import MAX_PARAM_VALUE_LENGTH, MAX_TAG_VALUE_LENGTH, TrackingStore

__all__ = ["TAG", "Recorder", "param_text"]


class TAG:
    """The tag keys runyard puts on pipeline and step runs."""

    KIND = "runyard.kind"
    PIPELINE = "runyard.pipeline"
    TARGET = "runyard.pipeline.target"
    EXECUTOR = "runyard.executor"
    RESUMED_FROM = "runyard.resumed_from"
    NODE = "runyard.node"
    MAP_INDEX = "runyard.map_index"
    SLOT = "runyard.slot"
    CACHE = "runyard.cache"
    CACHE_REASON = "runyard.cache.reason"
    CACHE_KEY = "runyard.cache.key"
    COMPONENTS = "runyard.cache.components"
    OUTPUT_DIGEST = "runyard.output.digest"
    OUTPUT_SERIALIZER = "runyard.output.serializer"
    ATTEMPTS = "runyard.attempts"
    ERROR = "runyard.error"
    STATUS = "runyard.step_status"


def param_text(value: Any) -> str:
    """How a parameter value is recorded: JSON when it is plain data, else its repr."""
    try:
        text = json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    return (
        text if len(text) <= MAX_PARAM_VALUE_LENGTH else text[: MAX_PARAM_VALUE_LENGTH - 3] + "..."
    )


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TAG_VALUE_LENGTH else text[: MAX_TAG_VALUE_LENGTH - 3] + "..."


def _now_ms() -> int:
    return int(time.time() * 1000)


class Recorder:
    """Writes the runs of one pipeline run (used only by the runner's thread)."""

    def __init__(self, store: TrackingStore, cas: ContentAddressedStore, pipeline: str) -> None:
        self.store = store
        self.cas = cas
        self.pipeline = pipeline
        self.experiment_id = ""
        self.run_id = ""

    def start_pipeline(
        self,
        experiment: str,
        params: Mapping[str, Any],
        tags: Mapping[str, str],
        graph: Mapping[str, Any],
    ) -> str:
        """Create the pipeline run with its params, tags and graph; return its id."""
        self.experiment_id = self._experiment(experiment)
        run = self.store.create_run(
            self.experiment_id,
            name=self.pipeline,
            tags={TAG.KIND: "pipeline", TAG.PIPELINE: self.pipeline, **tags},
        )
        self.run_id = run.run_id
        self.store.log_batch(self.run_id, params={k: param_text(v) for k, v in params.items()})
        ref = self.cas.put_bytes(json.dumps(graph, indent=1).encode(), "runyard/graph.json")
        self.store.log_artifact_refs(self.run_id, [ref])
        return self.run_id

    def _experiment(self, name: str) -> str:
        found = self.store.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return self.store.create_experiment(name)
        except AlreadyExists:  # another process created it meanwhile
            again = self.store.get_experiment_by_name(name)
            if again is None:
                raise
            return again.experiment_id

    def start_step(self, name: str, tags: Mapping[str, str]) -> str:
        """Create a RUNNING child run for a step call."""
        run = self.store.create_run(
            self.experiment_id,
            name=name,
            parent_run_id=self.run_id,
            tags={
                k: _clip(v)
                for k, v in {TAG.KIND: "step", TAG.PIPELINE: self.pipeline, **tags}.items()
            },
        )
        return run.run_id

    def finish_step(
        self,
        run_id: str,
        status: RunStatus,
        *,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        artifacts: Sequence[ArtifactRef] = (),
        inputs: Sequence[str] = (),
        output: str | None = None,
    ) -> None:
        """Record what a step call did and end its run with ``status``."""
        self.store.log_batch(
            run_id,
            params=dict(params or {}),
            tags={k: _clip(v) for k, v in (tags or {}).items()},
        )
        if artifacts:
            self.store.log_artifact_refs(run_id, artifacts)
        edges = [
            LineageEdge(NodeKind.ARTIFACT, d, NodeKind.RUN, run_id, "input")
            for d in dict.fromkeys(inputs)
        ]
        if output is not None:
            edges.append(LineageEdge(NodeKind.RUN, run_id, NodeKind.ARTIFACT, output, "output"))
        if edges:
            self.store.add_lineage(edges)
        self.store.update_run(run_id, status=status, end_time=_now_ms())

    def put_text(self, text: str, path: str) -> ArtifactRef:
        """Store a text artifact (logs, tracebacks, key records)."""
        return self.cas.put_bytes(text.encode("utf-8", "replace"), path)

    def end_pipeline(self, status: RunStatus, tags: Mapping[str, str] | None = None) -> None:
        """End the pipeline run."""
        if tags:
            self.store.log_batch(self.run_id, tags={k: _clip(v) for k, v in tags.items()})
        self.store.update_run(self.run_id, status=status, end_time=_now_ms())
