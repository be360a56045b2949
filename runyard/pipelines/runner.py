"""Running a pipeline graph: cache lookups, submission, retries, failures and tracking.

The runner walks the graph in dependency order on one thread. For each step call it
computes the cache key (:mod:`~runyard.pipelines.cache_key`), answers a hit from its cache
entry (reading the output from the artifact store only once something needs it, see
:mod:`~runyard.pipelines._lazy`), and otherwise submits the call to the executor. Every call
is a child run of the pipeline run, with its params, cache use, captured output, lineage and
outcome.

Recording is queued and written in bulk by :class:`~runyard.pipelines._recorder.Recorder`.
*When* the queue is written:

* Before user code runs (an inline ``submit``) or the runner waits for results, the queue is
  written, and the runner waits for that — unless the last such call returned quickly
  (within :data:`QUICK_S`), which suggests the next will too. Then a background thread
  (:class:`~runyard.pipelines._flusher.BackgroundWriter`) writes it once the oldest queued
  record is :data:`FLUSH_AFTER_S` old, while the runner goes on. So a slow step starts with
  everything before it written, quick steps share their writes (and their fsyncs), and no
  record waits much longer than :data:`FLUSH_AFTER_S` in any case. With an executor that
  runs no user code here (``isolates_tasks``) the background thread always does it.
* Before the pipeline run ends (finished, failed or Ctrl-C), and every
  :data:`~runyard.pipelines._recorder.FLUSH_EVERY` records.

A call is reported as settled (its :class:`StepEvent`) only once its record is written, by
the runner at its next flush point or by the background thread right after the write if the
runner is then running user code or waiting. The runner holds a lock whenever it works and
lets go only then, and events are reported under that lock: never two at once.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import json
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from typing import Any

from runyard.artifacts import ContentAddressedStore, open_cas, parse_digest
from runyard.entities import ArtifactRef, RunStatus
from runyard.errors import InvalidArgument, RunyardError
from runyard.executors import Executor, get_executor
from runyard.pipelines import serializers
from runyard.pipelines._chains import Chains
from runyard.pipelines._flusher import BackgroundWriter
from runyard.pipelines._hit_reads import HitReads
from runyard.pipelines._inputs import (
    Call,
    NodeOutput,
    calls_for,
    check_known_lengths,
    combine,
    resolve,
)
from runyard.pipelines._keys import call_key, input_digests, key_components, params_of
from runyard.pipelines._lazy import UNLOADED, LazyHit
from runyard.pipelines._recorder import TAG, PendingRun, Recorder
from runyard.pipelines._state import Attempt, NodeState, Prior, bare_hex
from runyard.pipelines._task import (
    OutputTarget,
    TaskOutcome,
    kernel_id,
    run_step_call,
    sync_outputs,
)
from runyard.pipelines.graph import Graph, NodeInput, StepNode, walk
from runyard.pipelines.params import bind_params
from runyard.pipelines.records import (
    CacheUse,
    PipelineFailed,
    PipelineResult,
    StepEvent,
    StepRecord,
    StepStatus,
)
from runyard.pipelines.resume import load_resume
from runyard.tracking.store import TrackingStore, get_store

__all__ = ["FLUSH_AFTER_S", "QUICK_S", "run_pipeline"]

_Key = tuple[str | None, str | None]
"""A call's cache key (or None) and why it has none."""

FLUSH_AFTER_S = 0.1
"""The longest a queued record waits for its write while steps keep returning quickly."""

QUICK_S = 0.005
"""A call of user code (or a wait for results) that returns within this is "quick"."""


def run_pipeline(
    graph: Graph,
    params: Mapping[str, Any],
    *,
    executor: str | Executor | None = None,
    store: TrackingStore | str | None = None,
    artifacts: ContentAddressedStore | str | None = None,
    experiment: str | None = None,
    use_cache: bool = True,
    resume: str | None = None,
    raise_on_failure: bool = True,
    on_event: Callable[[StepEvent], None] | None = None,
    target: str | None = None,
) -> PipelineResult:
    """Run ``graph`` with ``params`` (see :meth:`runyard.pipelines.Pipeline.run`).

    Raises:
        InvalidArgument: bad parameters, ``.map()`` lists of unequal known lengths, or
            parameters given together with ``resume``; nothing has run.
        PipelineFailed: a step failed and ``raise_on_failure``.
    """
    own_store = not isinstance(store, TrackingStore)
    tracking = store if isinstance(store, TrackingStore) else get_store(store)
    try:
        cas = artifacts if isinstance(artifacts, ContentAddressedStore) else open_cas(artifacts)
        prior: dict[tuple[str, int | None], Prior] = {}
        if resume is not None:
            if params:
                raise InvalidArgument(
                    "a resumed run keeps the parameters of the run it resumes; pass none"
                )
            params, prior = load_resume(tracking, resume, graph)
        values = bind_params(graph, params)
        for node in graph.nodes:
            if node.mapped:
                check_known_lengths(node, values)
        ex = get_executor(executor)
        own_executor = not isinstance(executor, Executor)
        runner = _Runner(
            graph, values, ex, Recorder(tracking, cas, graph.name), use_cache, prior, on_event
        )
        interrupted = False
        try:
            result = runner.run(experiment or graph.name, target, resume)
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            if own_executor:
                ex.shutdown(wait=not interrupted)
    finally:
        if own_store:
            tracking.close()
    if result.status is RunStatus.FAILED and raise_on_failure:
        first = result.failed[0] if result.failed else None
        where = f"step {first.label}" if first else f"pipeline {graph.name}"
        original = runner.first_error or RuntimeError(first.error if first else "failed")
        raise PipelineFailed(where, original, result) from original
    return result


class _Runner(HitReads):
    def __init__(
        self,
        graph: Graph,
        params: dict[str, Any],
        executor: Executor,
        recorder: Recorder,
        use_cache: bool,
        prior: Mapping[tuple[str, int | None], Prior],
        on_event: Callable[[StepEvent], None] | None,
    ) -> None:
        self.graph = graph
        self.order = graph.topological_order()
        self.params = params
        self.executor = executor
        self.rec = recorder
        self.store = recorder.store
        self.use_cache = use_cache and self.store.supports_cache
        self.no_cache_reason = None if use_cache else "caching is off for this run"
        if use_cache and not self.store.supports_cache:
            self.no_cache_reason = "the tracking store has no cache"
        self.prior = prior
        self.on_event = on_event
        self.outputs: dict[str, NodeOutput] = {}
        self.nodes = {n.node_id: NodeState() for n in graph.nodes}
        self.by_id = {n.node_id: n for n in graph.nodes}
        self.upstream = {k: list(v) for k, v in graph.upstream_of().items()}
        self.waiting_on = {n.node_id: set(self.upstream[n.node_id]) for n in graph.nodes}
        self.readers: dict[str, list[str]] = {n.node_id: [] for n in graph.nodes}
        for n in self.order:
            for up in self.upstream[n.node_id]:
                self.readers[up].append(n.node_id)
        self.ready: deque[str] = deque(
            n.node_id for n in self.order if not self.waiting_on[n.node_id]
        )
        self.inflight: dict[Future[TaskOutcome], Attempt] = {}
        # Finished futures, in the order they finish: waiting on all of inflight at every
        # turn would cost O(fan-out) per settled call.
        self._finished: queue.SimpleQueue[Future[TaskOutcome]] = queue.SimpleQueue()
        self.retry_queue: list[tuple[float, int, Attempt]] = []
        self.records: list[StepRecord] = []
        self._record_runs: list[PendingRun | None] = []  # the run of each record
        # (ticket of its record, node, index, status), reported once the ticket is written
        self._settled_events: deque[tuple[int, str, int | None, StepStatus]] = deque()
        # entries this run put (their runs may not be written yet): no need to read them
        self._cache_written: dict[str, tuple[dict[str, Any], PendingRun]] = {}
        self._lock = threading.Lock()  # held whenever the runner is not waiting on user code
        self._writer = BackgroundWriter(self.rec.flush, self._report_if_idle)
        self._quick = False  # whether the last call of user code (or wait) returned quickly
        self.first_error: BaseException | None = None
        self._submitting: Attempt | None = None  # an inline call runs inside submit()
        self._seq = itertools.count()
        self._total = 0
        # Cache hits whose output is read only when needed (see _lazy), by node.
        self._unloaded: dict[str, list[LazyHit]] = {}
        self._readers_left = {n: len(r) for n, r in self.readers.items()}  # not yet started
        self._done_reading: set[str] = set()  # nodes that no longer need their inputs read
        self._for_output = {i.node_id for i in walk(graph.output) if isinstance(i, NodeInput)}
        self._bad_keys: dict[str, str] = {}  # cache entries whose output proved unreadable
        self._slots: dict[tuple[str, int | None], int] = {}  # records a re-run replaces
        self._restarting: set[str] = set()  # nodes started before, to start again
        self._chains = self._chains_for(executor)

    # -- the loop -------------------------------------------------------------------------

    def run(self, experiment: str, target: str | None, resume: str | None) -> PipelineResult:
        tags = {TAG.EXECUTOR: self.executor.name}
        if target:
            tags[TAG.TARGET] = target
        if resume:
            tags[TAG.RESUMED_FROM] = resume
        self._lock.acquire()
        try:
            run_id = self.rec.start_pipeline(experiment, self.params, tags, self.graph.to_json())
            return self._run(run_id)
        finally:
            self._lock.release()
            self._writer.stop()

    def _run(self, run_id: str) -> PipelineResult:
        try:
            self._start_ready()
            while True:
                while self.inflight or self.retry_queue:
                    timeout = None
                    if self.retry_queue:
                        timeout = max(0.0, self.retry_queue[0][0] - time.monotonic())
                    self._flush_point()
                    with self._released():
                        finished = self._next_finished(timeout)
                    for future in finished:
                        attempt = self.inflight.pop(future, None)
                        if attempt is not None:  # else killed or already settled
                            self._settle(future, attempt)
                    self._fire_due_retries()
                    self._start_ready()
                if self._output_read():  # else an output runs again: go on
                    break
                self._start_ready()
        except KeyboardInterrupt:
            self._confirm_rest()
            self._kill()
            raise
        except BaseException:
            with contextlib.suppress(RunyardError):  # keep what finished; raise the cause
                self._confirm_rest()
                self.rec.flush()
            raise
        failed = any(s.failed for s in self.nodes.values())
        value = None if failed else resolve(self.graph.output, self.params, self.outputs).value
        status = RunStatus.FAILED if failed else RunStatus.FINISHED
        self._confirm_rest()
        self.rec.end_pipeline(status)
        self._flush()  # reports what the last write settled
        superseded = set(self._slots.values())  # hits whose call was never recorded again
        records = [
            r if run is None else r.with_run_id(run.run_id)
            for i, (r, run) in enumerate(zip(self.records, self._record_runs, strict=True))
            if i not in superseded
        ]
        return PipelineResult(value, run_id, status, tuple(records))

    @contextlib.contextmanager
    def _released(self) -> Iterator[None]:
        """Let go of the lock while user code runs or the runner waits; time how long."""
        start = time.perf_counter()
        self._lock.release()
        try:
            yield
        finally:
            interrupted: BaseException | None = None
            while True:  # get the lock back even if Ctrl-C comes meanwhile
                try:
                    self._lock.acquire()
                    break
                except KeyboardInterrupt as e:
                    interrupted = e
            self._quick = time.perf_counter() - start < QUICK_S
            if interrupted is not None:
                raise interrupted

    def _flush_point(self) -> None:
        """User code is about to run, or the runner to wait: write the queue, or have it written."""
        if self._writer.error is not None:
            error, self._writer.error = self._writer.error, None
            raise error
        since = self.rec.queued_since
        if since is None and not self.rec.cas.unsynced:
            self._report()  # what an earlier write settled
        elif not self._quick and not self.executor.isolates_tasks:
            # (An isolated executor runs no user code here: the write is never urgent, and
            # the background writer batches it with those of the steps finishing meanwhile.)
            self._flush()
        else:
            self._writer.request((since or time.monotonic()) + FLUSH_AFTER_S)
            self._report()

    def _kill(self) -> None:
        if self._submitting is not None:
            attempt = self._submitting
            self.rec.finish_step(attempt.run, RunStatus.KILLED, tags={TAG.STATUS: "KILLED"})
            self._record(attempt.call, StepStatus.KILLED, attempt.run, CacheUse.MISS)
        for future, attempt in list(self.inflight.items()):
            future.cancel()
            self.rec.finish_step(attempt.run, RunStatus.KILLED, tags={TAG.STATUS: "KILLED"})
            self._record(
                attempt.call,
                StepStatus.KILLED,
                attempt.run,
                CacheUse.MISS,
                attempts=attempt.number,
            )
        for _, _, attempt in self.retry_queue:
            self.rec.finish_step(attempt.run, RunStatus.KILLED, tags={TAG.STATUS: "KILLED"})
        self.inflight.clear()
        self.retry_queue.clear()
        self._flush()
        self.rec.end_pipeline(RunStatus.KILLED)

    def _start_ready(self) -> None:
        while self.ready:
            node = self.by_id[self.ready.popleft()]
            state = self.nodes[node.node_id]
            if state.started:
                continue
            state.started = True
            broken = [u for u in self.upstream[node.node_id] if self.nodes[u].failed]
            if broken:
                self._fail_dependent(node, broken[0])
            else:
                self._start_node(node)

    def _settled(self, node_id: str) -> None:
        """``node_id`` has its output or has failed: its readers may be ready now."""
        failed = self.nodes[node_id].failed
        for reader in self.readers[node_id]:
            waiting = self.waiting_on[reader]
            if failed or node_id in waiting:
                waiting.discard(node_id)
                if failed or not waiting:
                    self.ready.append(reader)

    def _mark_failed(self, node_id: str) -> None:
        if not self.nodes[node_id].failed:
            self.nodes[node_id].failed = True
            self._settled(node_id)

    def _start_node(self, node: StepNode) -> None:
        node_id = node.node_id
        state = self.nodes[node_id]
        waiting = [u for u in self.upstream[node_id] if u not in self.outputs]
        if waiting:  # an input's cached output proved unreadable: that call runs again first
            self._wait_for(node_id, waiting)
            return
        # A .map() needs the lengths of the lists it may fan out over: those values.
        if node.mapped and not self._read_inputs(node_id, self._whole_inputs(node)):
            return
        try:
            calls = calls_for(node, self.params, self.outputs)
        except RunyardError as e:
            self._release_inputs(node_id)
            self._fail_without_running(node, f"{type(e).__name__}: {e}", e)
            return
        if node_id in self._restarting:  # counted already; some calls may be done
            self._restarting.discard(node_id)
            calls = [c for c in calls if c.index not in state.done]
        else:
            state.calls = len(calls)
            self._total += len(calls)
            if not calls:
                self._node_done(node)
        keys = [self._key_of(call) for call in calls]
        # One lookup for every call of the node (a fan-out's hits cost one query).
        wanted = [
            k
            for k, _ in keys
            if k is not None and k not in self._cache_written and k not in self._bad_keys
        ]
        entries = self.store.get_cache_entries(wanted) if wanted else {}
        to_run = [
            launch
            for call, key in zip(calls, keys, strict=True)
            if (launch := self._start_call(call, key, entries)) is not None
        ]
        if to_run and self._unloaded.keys() & set(self.upstream[node_id]):
            # Calls run: they need the values of their inputs, read only now.
            if not self._read_inputs(node_id, self.upstream[node_id]):
                self._restarting.add(node_id)  # its hits are done: only the rest start again
                return
            fresh = {c.index: c for c in calls_for(node, self.params, self.outputs)}
            for attempt, _ in to_run:
                attempt.call = fresh[attempt.call.index]
        self._release_inputs(node_id)
        if not to_run:
            return
        # The runs of a fan-out's calls are created in one transaction, then submitted.
        runs = self.rec.start_steps([(a.call.label, tags) for a, tags in to_run])
        for (attempt, _), run in zip(to_run, runs, strict=True):
            attempt.run = run
        if len(to_run) > 1 and self.executor.batches_tasks:
            self._submit_many([attempt for attempt, _ in to_run])
            return
        for attempt, _ in to_run:
            self._submit(attempt)

    # -- one call ---------------------------------------------------------------------------

    def _key_of(self, call: Call) -> _Key:
        """The call's cache key, or why it has none (its components are built for a miss)."""
        if self.use_cache:
            return call_key(call)
        return None, self.no_cache_reason

    def _start_call(
        self, call: Call, keyed: _Key, entries: Mapping[str, str]
    ) -> tuple[Attempt, dict[str, str]] | None:
        """Answer ``call`` from a prior run or the cache, or return what to launch for it.

        ``entries`` holds the cache entries found for the node's keys.
        """
        prior = self.prior.get((call.node.node_id, call.index))
        if prior is not None and self._reuse(call, prior):
            return None
        key, reason = keyed
        if key is not None and self._answer_from_cache(call, key, entries):
            return None
        tags = self._slot_tags(call)
        components = key_components(call)[0] if key is not None else None
        if key is not None and components is not None:
            tags.update(
                {TAG.CACHE: CacheUse.MISS, TAG.CACHE_KEY: key, TAG.COMPONENTS: components.to_json()}
            )
            if key in self._bad_keys:
                tags[TAG.CACHE_REASON] = self._bad_keys[key]
        else:
            tags.update({TAG.CACHE: CacheUse.OFF, TAG.CACHE_REASON: reason or "not cached"})
        return Attempt(call, PendingRun(), 1, key, components, reason), tags

    def _chains_for(self, executor: Executor) -> Chains | None:
        """Chaining of single calls on an executor that chains tasks (see _chains)."""
        if not executor.chains_tasks:
            return None
        return Chains(
            executor,
            self.by_id,
            self.readers,
            self.upstream,
            self.params,
            self.outputs,
            self.nodes,
            lambda node: (
                (self.use_cache and node.step.options.cache) or (node.node_id, None) in self.prior
            ),
            lambda node: self._target_of(node, node.node_id),
        )

    def _submit(self, attempt: Attempt) -> None:
        step = attempt.call.node.step
        node_id = attempt.call.node.node_id
        single = self._chains is not None and attempt.call.index is None
        if single and self._chains is not None:
            chained = self._chains.adopt(node_id)
            if chained is not None and attempt.key is None:  # submitted while upstream ran
                attempt.started = time.perf_counter()
                self._event(attempt.call, StepStatus.RUNNING)
                self._track(chained, attempt)
                return
        timeout = step.options.timeout if self.executor.supports_timeouts else None
        if not self.executor.isolates_tasks:
            self._flush_point()  # an inline executor runs the call inside submit()
        attempt.started = time.perf_counter()
        self._event(attempt.call, StepStatus.RUNNING)
        self._submitting = attempt
        target = self._output_target(attempt)
        try:
            with self._released():
                future = self.executor.submit(
                    run_step_call,
                    step.fn,
                    attempt.call.kwargs,
                    True,
                    target,
                    resources=step.options.resources,
                    timeout=timeout,
                )
        except InvalidArgument as e:
            failed: Future[TaskOutcome] = Future()
            failed.set_exception(e)
            future = failed
        self._submitting = None
        self._track(future, attempt)
        if single and self._chains is not None:
            self._chains.launched(node_id, future)

    def _submit_many(self, attempts: list[Attempt]) -> None:
        """Hand a fan-out's calls (one step) to an executor that packs them into fewer tasks."""
        step = attempts[0].call.node.step
        timeout = step.options.timeout if self.executor.supports_timeouts else None
        self._flush_point()
        started = time.perf_counter()
        for attempt in attempts:
            attempt.started = started
            self._event(attempt.call, StepStatus.RUNNING)
        # Workers store outputs without waiting for the disk, then make each group durable
        # in one commit before its outcomes come back (one fsync round per group, not per call).
        tasks: list[tuple[tuple[Any, ...], Mapping[str, Any]]] = [
            ((a.call.kwargs, True, self._output_target(a, durable=False)), {}) for a in attempts
        ]
        isolated = self.executor.isolates_tasks
        try:
            with self._released():
                futures = self.executor.submit_many(
                    functools.partial(run_step_call, step.fn),
                    tasks,
                    resources=step.options.resources,
                    timeout=timeout,
                    commit=functools.partial(sync_outputs, self.rec.cas.uri) if isolated else None,
                )
        except InvalidArgument as e:
            futures = []
            for _ in attempts:
                failed: Future[TaskOutcome] = Future()
                failed.set_exception(e)
                futures.append(failed)
        for future, attempt in zip(futures, attempts, strict=True):
            self._track(future, attempt)

    def _output_target(self, attempt: Attempt, durable: bool = True) -> OutputTarget | None:
        return self._target_of(attempt.call.node, attempt.call.label, durable)

    def _target_of(self, node: StepNode, label: str, durable: bool = True) -> OutputTarget | None:
        # On an isolated executor the worker stores the output itself: a finished step is
        # durable even if the driver or the cluster is lost before the result comes back.
        # A single call's worker on this machine leaves the fsync to the recorder (which
        # syncs before it records anything that points at the output), so the next step
        # need not wait for the disk; a fan-out's chunks commit their outputs themselves.
        if not self.executor.isolates_tasks:
            return None
        step = node.step
        return OutputTarget(
            self.rec.cas.uri,
            step.options.serializer,
            label,
            step.name,
            durable,
            kernel_id() if durable else None,
        )

    def _track(self, future: Future[TaskOutcome], attempt: Attempt) -> None:
        self.inflight[future] = attempt
        future.add_done_callback(self._finished.put)

    def _next_finished(self, timeout: float | None) -> list[Future[TaskOutcome]]:
        """The futures that finished: at least one unless ``timeout`` seconds pass first."""
        try:
            done = [self._finished.get(timeout=timeout)]
        except queue.Empty:
            return []
        with contextlib.suppress(queue.Empty):
            while True:
                done.append(self._finished.get_nowait())
        return done

    def _answer_from_cache(self, call: Call, key: str, entries: Mapping[str, str]) -> bool:
        """Answer ``call`` from its cache entry, if there is a usable one.

        The output is not read here: the node's output holds :data:`UNLOADED` until a step
        that runs, or the caller, needs the value (see :mod:`runyard.pipelines._lazy`).
        """
        if key in self._bad_keys:
            return False
        written = self._cache_written.get(key)
        if written is not None:
            entry, source = written
            if source.run_id is None:
                self.rec.flush()  # the hit names the run that produced the output
            entry = {**entry, "run_id": source.run_id}
        else:
            payload = entries.get(key)
            if payload is None:
                return False
            try:
                entry = json.loads(payload)
            except ValueError:
                return False
        try:
            digest, serializer = entry["digest"], entry["serializer"]
            parse_digest(digest)
        except (RunyardError, KeyError, TypeError):
            return False  # not an entry runyard wrote: run the step again
        if not isinstance(serializer, str):
            return False
        node_id = call.node.node_id
        self.records.append(
            StepRecord(
                node_id, call.index, StepStatus.CACHED, None, CacheUse.HIT, output_digest=digest
            )
        )
        self._record_runs.append(None)  # set once the hit is confirmed
        hit = LazyHit(
            call, key, digest, serializer, str(entry.get("run_id") or ""), len(self.records) - 1
        )
        self._unloaded.setdefault(node_id, []).append(hit)
        if self._readers_left[node_id] <= 0 and node_id not in self._for_output:
            self._confirm(hit)  # nothing will read it
        self._call_done(call, NodeOutput(UNLOADED, bare_hex(digest)))
        return True

    def _reuse(self, call: Call, prior: Prior) -> bool:
        digest, serializer, old_run = prior
        try:
            value = self._load(digest, serializer)
        except RunyardError:
            return False
        tags = self._slot_tags(call)
        tags.update(
            {
                TAG.CACHE: CacheUse.RESUMED,
                TAG.OUTPUT_DIGEST: digest,
                TAG.OUTPUT_SERIALIZER: serializer,
                TAG.STATUS: StepStatus.FINISHED,
                "runyard.resumed_step_run": old_run,
            }
        )
        run = self.rec.start_step(call.label, tags)
        self.rec.finish_step(run, RunStatus.FINISHED, params=params_of(call), output=digest)
        self._record(call, StepStatus.FINISHED, run, CacheUse.RESUMED, digest=digest)
        self._call_done(call, NodeOutput(value, bare_hex(digest)))
        return True

    # -- settling ---------------------------------------------------------------------------

    def _settle(self, future: Future[TaskOutcome], attempt: Attempt) -> None:
        if self._chains is not None:
            self._chains.settled(attempt.call.node.node_id, future)
        try:
            outcome = future.result()
        except RunyardError as e:  # the worker died, timed out, or the task was refused
            self._attempt_failed(attempt, f"{type(e).__name__}: {e}", e, None)
            return
        if not outcome.ok:
            error = outcome.error or RuntimeError("the step failed")
            self._attempt_failed(attempt, outcome.traceback, error, outcome)
            return
        self._succeeded(attempt, outcome)

    def _succeeded(self, attempt: Attempt, outcome: TaskOutcome) -> None:
        call = attempt.call
        step = call.node.step
        artifacts: list[ArtifactRef] = []
        tags: dict[str, str] = {TAG.STATUS: StepStatus.FINISHED, TAG.ATTEMPTS: str(attempt.number)}
        digest: str | None = None
        reason = attempt.reason
        if outcome.worker:
            tags[TAG.WORKER] = outcome.worker
        if outcome.unsynced:  # the worker left the fsync to us: done before any record
            self.rec.cas.expect_unsynced(outcome.unsynced)
        try:
            if outcome.unstorable is not None:
                raise serializers.Unstorable(outcome.unstorable)
            if outcome.stored is not None:  # the worker stored it
                name, ref = outcome.stored
            else:
                name, data = serializers.dump(
                    outcome.value, step.options.serializer, f"step {step.name!r}"
                )
                ext = serializers.get_serializer(name).extension
                ref = self.rec.put_output(data, f"outputs/{call.label}.{ext}")
            artifacts.append(ref)
            digest = ref.digest
            tags.update({TAG.OUTPUT_DIGEST: ref.digest, TAG.OUTPUT_SERIALIZER: name})
            if attempt.key is not None:
                entry: dict[str, Any] = {
                    "digest": ref.digest,
                    "serializer": name,
                    "path": ref.path,
                    "size": ref.size,
                    "uri": ref.uri,
                }
                # Written once its blob is durable, with the id of the run (see _recorder).
                self.rec.put_cache_entry(attempt.key, entry, attempt.run)
                self._cache_written[attempt.key] = (entry, attempt.run)
        except serializers.Unstorable as e:
            reason = f"the output cannot be stored: {e}"
            tags.update({TAG.CACHE: CacheUse.OFF, TAG.CACHE_REASON: reason})
        artifacts += self._logs(outcome)
        self.rec.finish_step(
            attempt.run,
            RunStatus.FINISHED,
            params=params_of(call),
            tags=tags,
            artifacts=artifacts,
            inputs=input_digests(call),
            output=digest,
        )
        cache = CacheUse.MISS if attempt.key is not None and digest is not None else CacheUse.OFF
        self._record(
            call,
            StepStatus.FINISHED,
            attempt.run,
            cache,
            reason=None if cache is CacheUse.MISS else reason,
            duration=outcome.duration_s,
            attempts=attempt.number,
            digest=digest,
            worker=outcome.worker or None,
        )
        stored = bare_hex(digest) if digest else None
        self._call_done(call, NodeOutput(outcome.value, stored, None if stored else reason))

    def _logs(self, outcome: TaskOutcome | None) -> list[ArtifactRef]:
        if outcome is None:
            return []
        refs = []
        if outcome.stdout:
            refs.append(self.rec.put_text(outcome.stdout, "logs/stdout.txt"))
        if outcome.stderr:
            refs.append(self.rec.put_text(outcome.stderr, "logs/stderr.txt"))
        return refs

    def _attempt_failed(
        self, attempt: Attempt, text: str, error: BaseException, outcome: TaskOutcome | None
    ) -> None:
        options = attempt.call.node.step.options
        if attempt.number <= options.retries:
            delay = options.retry_delay_after(attempt.number)
            retry = Attempt(
                attempt.call,
                attempt.run,
                attempt.number + 1,
                attempt.key,
                attempt.components,
                attempt.reason,
            )
            heapq.heappush(self.retry_queue, (time.monotonic() + delay, next(self._seq), retry))
            return
        call = attempt.call
        artifacts = self._logs(outcome) + [self.rec.put_text(text, "logs/traceback.txt")]
        headline = text.strip().splitlines()[-1] if text.strip() else type(error).__name__
        self.rec.finish_step(
            attempt.run,
            RunStatus.FAILED,
            params=params_of(call),
            tags={
                TAG.STATUS: StepStatus.FAILED,
                TAG.ERROR: headline,
                TAG.ATTEMPTS: str(attempt.number),
            },
            artifacts=artifacts,
            inputs=input_digests(call),
        )
        self._record(
            call,
            StepStatus.FAILED,
            attempt.run,
            CacheUse.MISS if attempt.key else CacheUse.OFF,
            reason=attempt.reason,
            duration=time.perf_counter() - attempt.started,
            attempts=attempt.number,
            error=text,
        )
        if self.first_error is None:
            self.first_error = error
        self._mark_failed(call.node.node_id)

    def _fire_due_retries(self) -> None:
        now = time.monotonic()
        while self.retry_queue and self.retry_queue[0][0] <= now:
            _, _, attempt = heapq.heappop(self.retry_queue)
            self._submit(attempt)

    def _fail_dependent(self, node: StepNode, upstream: str) -> None:
        first = next((r for r in self.records if r.node_id == upstream and r.error), None)
        text = f"not run: upstream step {upstream!r} failed"
        if first is not None and first.error:
            text += f"\n\n{first.error}"
        self._fail_without_running(node, text, None)

    def _fail_without_running(self, node: StepNode, text: str, error: BaseException | None) -> None:
        tags = {
            TAG.NODE: node.node_id,
            TAG.SLOT: f"{self.graph.name}/{node.node_id}",
            TAG.CACHE: CacheUse.OFF,
        }
        run = self.rec.start_step(node.node_id, tags)
        self.rec.finish_step(
            run,
            RunStatus.FAILED,
            tags={TAG.STATUS: StepStatus.FAILED, TAG.ERROR: text.splitlines()[0]},
            artifacts=[self.rec.put_text(text, "logs/traceback.txt")],
        )
        self._total += 1
        self.records.append(
            StepRecord(node.node_id, None, StepStatus.FAILED, None, CacheUse.OFF, error=text)
        )
        self._record_runs.append(run)
        self._settled_events.append((self.rec.tickets, node.node_id, None, StepStatus.FAILED))
        if error is not None and self.first_error is None:
            self.first_error = error
        self._mark_failed(node.node_id)

    def _call_done(self, call: Call, output: NodeOutput) -> None:
        state = self.nodes[call.node.node_id]
        state.done[call.index] = output
        if len(state.done) == state.calls and not state.failed:
            self._node_done(call.node)

    def _node_done(self, node: StepNode) -> None:
        state = self.nodes[node.node_id]
        if not node.mapped:
            self.outputs[node.node_id] = state.done[None]
            self._settled(node.node_id)
            return
        items = [state.done[i] for i in range(state.calls)]
        missing = next((o for o in items if o.digest is None), None)
        digest = None if missing else combine("list", [o.digest or "" for o in items])
        self.outputs[node.node_id] = NodeOutput(
            [o.value for o in items], digest, missing.reason if missing else None, items
        )
        self._settled(node.node_id)

    # -- records and events -------------------------------------------------------------------

    def _record(
        self,
        call: Call,
        status: StepStatus,
        run: PendingRun | None,
        cache: CacheUse,
        *,
        reason: str | None = None,
        duration: float = 0.0,
        attempts: int = 0,
        error: str | None = None,
        digest: str | None = None,
        worker: str | None = None,
    ) -> None:
        record = StepRecord(
            call.node.node_id,
            call.index,
            status,
            None,  # set from `run` once it is written
            cache,
            reason,
            duration,
            attempts,
            error,
            digest,
            worker,
        )
        slot = self._slots.pop((call.node.node_id, call.index), None)
        if slot is None:
            self.records.append(record)
            self._record_runs.append(run)
        else:  # a call run again because its cached output could not be read
            self.records[slot] = record
            self._record_runs[slot] = run
        # Reported once the record is written: see _flush.
        self._settled_events.append((self.rec.tickets, call.node.node_id, call.index, status))

    def _flush(self) -> None:
        """Write the queued records and wait for that, then report the calls they settled."""
        self.rec.flush()
        self._report()

    def _report(self) -> None:
        """Report the calls whose records are written (lock held)."""
        written = self.rec.written
        events = self._settled_events
        while events and events[0][0] <= written:
            _, node_id, index, status = events.popleft()
            self._emit(node_id, index, status)

    def _report_if_idle(self) -> None:
        """After a background write: report now if the runner runs user code or waits."""
        if self._lock.acquire(blocking=False):
            try:
                self._report()
            finally:
                self._lock.release()

    def _event(self, call: Call, status: StepStatus) -> None:
        self._emit(call.node.node_id, call.index, status)

    def _emit(self, node_id: str, index: int | None, status: StepStatus) -> None:
        if self.on_event is not None:
            self.on_event(StepEvent(node_id, index, status, self._total))
