"""Recording a pipeline run and its step runs in the tracking store and artifact store.

A step call that runs user code gets its run when it starts (RUNNING, so a crash or a hang
shows). What happens after is written in bulk: :meth:`Recorder.finish_step` queues how a
call ended (params, tags, artifacts, lineage, status) and :meth:`Recorder.add_finished_step`
queues the whole run of a call that was finished the moment it was known (a cache hit);
:meth:`Recorder.flush` writes everything queued with one
:meth:`~runyard.tracking.store.base.TrackingStore.create_runs` and one
:meth:`~runyard.tracking.store.base.TrackingStore.end_runs` call (a transaction each on the
SQL store). The runner flushes before it runs or waits for user code, before the pipeline
run ends (finished, failed or interrupted), and every :data:`FLUSH_EVERY` queued records,
so nothing stays queued while anything slow happens; and it reports a call as settled (its
:class:`~runyard.pipelines.records.StepEvent`, its
:class:`~runyard.pipelines.records.StepRecord`) only once its record is written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runyard.artifacts import ContentAddressedStore
from runyard.entities import ArtifactRef, LineageEdge, NodeKind, RunStatus
from runyard.errors import AlreadyExists
from runyard.tracking.store.base import (
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    NewRun,
    RunEnd,
    TrackingStore,
)

__all__ = ["FLUSH_EVERY", "TAG", "PendingRun", "Recorder", "param_text"]

FLUSH_EVERY = 1000
"""Queued finished runs that trigger a write without waiting for a flush point."""


@dataclass(slots=True)
class PendingRun:
    """The run of a queued step call; ``run_id`` is set once :meth:`Recorder.flush` wrote it."""

    run_id: str | None = None


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
    WORKER = "runyard.worker"


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
        self._queued: list[tuple[NewRun, PendingRun]] = []
        self._ends: list[RunEnd] = []

    def start_pipeline(
        self,
        experiment: str,
        params: Mapping[str, Any],
        tags: Mapping[str, str],
        graph: Mapping[str, Any],
    ) -> str:
        """Create the pipeline run with its params, tags and graph; return its id."""
        self.experiment_id = self._experiment(experiment)
        (self.run_id,) = self.store.create_runs(
            [
                NewRun(
                    self.experiment_id,
                    name=self.pipeline,
                    params={k: param_text(v) for k, v in params.items()},
                    tags={TAG.KIND: "pipeline", TAG.PIPELINE: self.pipeline, **tags},
                )
            ]
        )
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

    def start_steps(self, calls: Sequence[tuple[str, Mapping[str, str]]]) -> list[str]:
        """Create RUNNING child runs for several step calls in one store call."""
        if len(calls) == 1:
            return [self.start_step(*calls[0])]
        now = _now_ms()
        return self.store.create_runs(
            [
                NewRun(
                    self.experiment_id,
                    name=name,
                    start_time=now,
                    tags={
                        k: _clip(v)
                        for k, v in {TAG.KIND: "step", TAG.PIPELINE: self.pipeline, **tags}.items()
                    },
                    parent_run_id=self.run_id,
                )
                for name, tags in calls
            ]
        )

    def add_finished_step(
        self, name: str, tags: Mapping[str, str], params: Mapping[str, str]
    ) -> PendingRun:
        """Queue the run of a call that finished as it started (a cache hit); see the module."""
        now = _now_ms()
        record = NewRun(
            self.experiment_id,
            name=name,
            start_time=now,
            status=RunStatus.FINISHED,
            end_time=now,
            params=dict(params),
            tags={
                k: _clip(v)
                for k, v in {TAG.KIND: "step", TAG.PIPELINE: self.pipeline, **tags}.items()
            },
            parent_run_id=self.run_id,
        )
        pending = PendingRun()
        self._queued.append((record, pending))
        self._flush_if_full()
        return pending

    @property
    def queued(self) -> int:
        """How many records wait for :meth:`flush`."""
        return len(self._queued) + len(self._ends)

    def _flush_if_full(self) -> None:
        if self.queued >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Write everything queued (``create_runs``, then ``end_runs``); no-op when nothing is.

        What a failed write did not write stays queued for the next flush.
        """
        if self._queued:
            queued, self._queued = self._queued, []
            try:
                ids = self.store.create_runs([record for record, _ in queued])
            except BaseException:
                self._queued = queued + self._queued
                raise
            for (_, pending), run_id in zip(queued, ids, strict=True):
                pending.run_id = run_id
        if self._ends:
            ends, self._ends = self._ends, []
            try:
                self.store.end_runs(ends)
            except BaseException:
                self._ends = ends + self._ends
                raise

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
        """Queue what a step call did and the end of its run with ``status``; see the module."""
        edges = [
            LineageEdge(NodeKind.ARTIFACT, d, NodeKind.RUN, run_id, "input")
            for d in dict.fromkeys(inputs)
        ]
        if output is not None:
            edges.append(LineageEdge(NodeKind.RUN, run_id, NodeKind.ARTIFACT, output, "output"))
        self._ends.append(
            RunEnd(
                run_id,
                status,
                _now_ms(),
                params=dict(params or {}),
                tags={k: _clip(v) for k, v in (tags or {}).items()},
                artifacts=tuple(artifacts),
                lineage=tuple(edges),
            )
        )
        self._flush_if_full()

    def put_text(self, text: str, path: str) -> ArtifactRef:
        """Store a text artifact (logs, tracebacks, key records)."""
        return self.cas.put_bytes(text.encode("utf-8", "replace"), path)

    def end_pipeline(self, status: RunStatus, tags: Mapping[str, str] | None = None) -> None:
        """End the pipeline run, in the same write as whatever is still queued."""
        clipped = {k: _clip(v) for k, v in (tags or {}).items()}
        self._ends.append(RunEnd(self.run_id, status, _now_ms(), tags=clipped))
        self.flush()
