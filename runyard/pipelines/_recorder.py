"""Recording a pipeline run and its step runs in the tracking store and artifact store.

Everything about a step call is queued and written in bulk: :meth:`Recorder.start_step`
queues its RUNNING run, :meth:`Recorder.finish_step` how it ended (params, tags, artifacts,
lineage, status), :meth:`Recorder.add_finished_step` the whole run of a call that was
finished the moment it was known (a cache hit), and :meth:`Recorder.put_cache_entry` its
cache entry. Step outputs and logs go to the artifact store without waiting for the disk
(``durable=False``). :meth:`Recorder.flush` then writes everything queued, in this order:

1. the blobs written since the last flush are made durable, in one group
   (:meth:`~runyard.artifacts.cas.ContentAddressedStore.sync`);
2. the queued runs are created (one ``create_runs`` call);
3. the cache entries are written (one ``put_cache_entries`` call), so an entry never points
   at a blob that is not durable;
4. the queued ends are written (one ``end_runs`` call); an artifact ref queued for a run
   (the pipeline's ``graph.json``) goes with that run's end when it is queued too, else
   with its own ``log_artifact_refs`` call just before.

Each is one transaction on the SQL store, however many steps are queued. Until a flush a
queued run has no id: it is a :class:`PendingRun` whose ``run_id`` the flush sets. When and
from which thread the runner flushes is described in :mod:`runyard.pipelines.runner`.

The runner's thread queues; a flush may run on it or on a background thread
(:mod:`runyard.pipelines._flusher`). Queueing takes a short lock; a flush takes the queue
as it is (leaving an empty one to fill meanwhile) and writes it under a second lock, so two
flushes never interleave and a later one never writes the end of a run an earlier one has
not created. Every queued record gets a ticket (a running count); :attr:`Recorder.written`
is the count of those written, so the runner reports a call once its ticket is written.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runyard.artifacts import ContentAddressedStore
from runyard.entities import ArtifactRef, LineageEdge, NodeKind, RunStatus
from runyard.errors import AlreadyExists, RunyardError
from runyard.tracking.store.base import (
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    NewRun,
    RunEnd,
    TrackingStore,
)

__all__ = ["FLUSH_EVERY", "TAG", "PendingRun", "Recorder", "param_text"]

FLUSH_EVERY = 1000
"""Queued records that trigger a write without waiting for a flush point."""


@dataclass(slots=True)
class PendingRun:
    """The run of a queued step call; ``run_id`` is set once :meth:`Recorder.flush` wrote it."""

    run_id: str | None = None

    @property
    def id(self) -> str:
        """The run id; only valid once the run is written."""
        if self.run_id is None:
            raise RunyardError("internal: the step run is not written yet")
        return self.run_id


@dataclass(slots=True)
class _End:
    """How a queued run ended; its :class:`RunEnd` is built once the run has an id."""

    run: PendingRun
    status: RunStatus
    end_time: int
    params: dict[str, str]
    tags: dict[str, str]
    artifacts: tuple[ArtifactRef, ...]
    inputs: tuple[str, ...]
    output: str | None

    def to_run_end(self) -> RunEnd:
        run_id = self.run.id
        edges = [
            LineageEdge(NodeKind.ARTIFACT, d, NodeKind.RUN, run_id, "input")
            for d in dict.fromkeys(self.inputs)
        ]
        if self.output is not None:
            edges.append(
                LineageEdge(NodeKind.RUN, run_id, NodeKind.ARTIFACT, self.output, "output")
            )
        return RunEnd(
            run_id,
            self.status,
            self.end_time,
            params=self.params,
            tags=self.tags,
            artifacts=self.artifacts,
            lineage=tuple(edges),
        )


@dataclass(slots=True)
class _Queue:
    runs: list[tuple[NewRun, PendingRun]] = field(default_factory=list)
    cache: list[tuple[str, dict[str, Any], PendingRun]] = field(default_factory=list)
    ends: list[_End] = field(default_factory=list)
    refs: list[tuple[str, ArtifactRef]] = field(default_factory=list)  # (run id, ref)

    def __len__(self) -> int:
        return len(self.runs) + len(self.cache) + len(self.ends) + len(self.refs)

    def then(self, later: _Queue) -> _Queue:
        """This queue's records, then ``later``'s."""
        return _Queue(
            self.runs + later.runs,
            self.cache + later.cache,
            self.ends + later.ends,
            self.refs + later.refs,
        )


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
    SOURCE_RUN = "runyard.cache.source_run"
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
    """Writes the runs of one pipeline run (queues from one thread, flushes from any)."""

    def __init__(self, store: TrackingStore, cas: ContentAddressedStore, pipeline: str) -> None:
        self.store = store
        self.cas = cas
        self.pipeline = pipeline
        self.experiment_id = ""
        self.run_id = ""
        self._queue = _Queue()
        self._since: float | None = None  # monotonic time the oldest queued record came
        self._queue_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._tickets = 0  # records queued so far
        self.written = 0
        """How many of the records queued so far are written (see the module)."""

    def start_pipeline(
        self,
        experiment: str,
        params: Mapping[str, Any],
        tags: Mapping[str, str],
        graph: bytes,
    ) -> str:
        """Create the pipeline run with its params, tags and graph (its JSON); return its id."""
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
        # Recorded with the first write, once the blob is durable (see the module).
        ref = self.cas.put_bytes(graph, "runyard/graph.json", durable=False)
        with self._queue_lock:
            self._queue.refs.append((self.run_id, ref))
            self._added(1)
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

    def _step_tags(self, tags: Mapping[str, str]) -> dict[str, str]:
        out = {TAG.KIND: "step", TAG.PIPELINE: _clip(self.pipeline)}
        for k, v in tags.items():
            out[k] = v if len(v) <= MAX_TAG_VALUE_LENGTH else _clip(v)
        return out

    def _added(self, count: int) -> None:
        """``count`` records were queued (queue lock held)."""
        self._tickets += count
        if self._since is None:
            self._since = time.monotonic()

    def _flush_if_full(self) -> None:
        if len(self._queue) >= FLUSH_EVERY:
            self.flush()

    @property
    def tickets(self) -> int:
        """How many records were queued so far: the ticket of the last one."""
        return self._tickets

    def start_step(self, name: str, tags: Mapping[str, str]) -> PendingRun:
        """Queue a RUNNING child run for a step call."""
        return self.start_steps([(name, tags)])[0]

    def start_steps(self, calls: Sequence[tuple[str, Mapping[str, str]]]) -> list[PendingRun]:
        """Queue RUNNING child runs for several step calls."""
        now = _now_ms()
        pending = [PendingRun() for _ in calls]
        records = [
            (
                NewRun(
                    self.experiment_id,
                    name=name,
                    start_time=now,
                    tags=self._step_tags(tags),
                    parent_run_id=self.run_id,
                ),
                run,
            )
            for (name, tags), run in zip(calls, pending, strict=True)
        ]
        with self._queue_lock:
            self._queue.runs += records
            self._added(len(records))
        self._flush_if_full()
        return pending

    def add_finished_step(
        self, name: str, tags: Mapping[str, str], params: Mapping[str, str]
    ) -> PendingRun:
        """Queue the run of a call that finished as it started (a cache hit); see the module.

        It is tagged like every step run (``runyard.kind``, ``runyard.pipeline``), so a search
        for a pipeline's step runs finds its hits too.
        """
        now = _now_ms()
        record = NewRun(
            self.experiment_id,
            name=name,
            start_time=now,
            status=RunStatus.FINISHED,
            end_time=now,
            params=dict(params),
            tags=self._step_tags(tags),
            parent_run_id=self.run_id,
        )
        pending = PendingRun()
        with self._queue_lock:
            self._queue.runs.append((record, pending))
            self._added(1)
        self._flush_if_full()
        return pending

    def put_cache_entry(self, key: str, entry: Mapping[str, Any], run: PendingRun) -> None:
        """Queue a cache entry; its payload gets ``run_id`` (the run that produced it)."""
        with self._queue_lock:
            self._queue.cache.append((key, dict(entry), run))
            self._added(1)
        self._flush_if_full()

    def finish_step(
        self,
        run: PendingRun,
        status: RunStatus,
        *,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        artifacts: Sequence[ArtifactRef] = (),
        inputs: Sequence[str] = (),
        output: str | None = None,
    ) -> None:
        """Queue what a step call did and the end of its run with ``status``; see the module."""
        end = _End(
            run,
            status,
            _now_ms(),
            dict(params or {}),
            {k: _clip(v) for k, v in (tags or {}).items()},
            tuple(artifacts),
            tuple(inputs),
            output,
        )
        with self._queue_lock:
            self._queue.ends.append(end)
            self._added(1)
        self._flush_if_full()

    @property
    def queued(self) -> int:
        """How many records wait for :meth:`flush`."""
        return len(self._queue)

    @property
    def queued_since(self) -> float | None:
        """When (``time.monotonic()``) the oldest queued record came; None when none waits."""
        return self._since

    def flush(self) -> None:
        """Write everything queued, in the order the module describes; no-op when nothing is.

        Thread-safe. What a failed write did not write goes back to the head of the queue.
        """
        with self._write_lock:
            with self._queue_lock:
                queue, self._queue = self._queue, _Queue()
                since, self._since = self._since, None
                tickets = self._tickets
            if not queue and not self.cas.unsynced:
                self.written = tickets
                return
            try:
                self._write(queue)
            except BaseException:
                with self._queue_lock:
                    self._queue = queue.then(self._queue)
                    self._since = since
                raise
            self.written = tickets

    def _write(self, queue: _Queue) -> None:
        """Write ``queue``, emptying each part once it is written."""
        self.cas.sync()
        if queue.runs:
            ids = self.store.create_runs([record for record, _ in queue.runs])
            for (_, pending), run_id in zip(queue.runs, ids, strict=True):
                pending.run_id = run_id
            queue.runs = []
        if queue.cache:
            entries = [
                (key, json.dumps({**entry, "run_id": run.id})) for key, entry, run in queue.cache
            ]
            self.store.put_cache_entries(entries)
            queue.cache = []
        if queue.refs:
            # A ref of a run that ends in this write goes with its end (one transaction less).
            ends = {end.run.run_id: end for end in queue.ends}
            for run_id, ref in queue.refs:
                end = ends.get(run_id)
                if end is not None:
                    end.artifacts += (ref,)
                else:
                    self.store.log_artifact_refs(run_id, [ref])
            queue.refs = []
        if queue.ends:
            self.store.end_runs([end.to_run_end() for end in queue.ends])
            queue.ends = []

    def put_output(self, data: bytes, path: str) -> ArtifactRef:
        """Store a step's output; durable by the next :meth:`flush`."""
        return self.cas.put_bytes(data, path, durable=False)

    def put_text(self, text: str, path: str) -> ArtifactRef:
        """Store a text artifact (logs, tracebacks); durable by the next :meth:`flush`."""
        return self.cas.put_bytes(text.encode("utf-8", "replace"), path, durable=False)

    def end_pipeline(self, status: RunStatus, tags: Mapping[str, str] | None = None) -> None:
        """End the pipeline run, in the same write as whatever is still queued."""
        clipped = {k: _clip(v) for k, v in (tags or {}).items()}
        end = _End(PendingRun(self.run_id), status, _now_ms(), {}, clipped, (), (), None)
        with self._queue_lock:
            self._queue.ends.append(end)
            self._added(1)
        self.flush()
