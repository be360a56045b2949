"""A fan-out on Ray in adaptive chunks, each call keeping its own result, error and retries.

:class:`RayChunks` runs the calls of one :meth:`RayExecutor.submit_many
<runyard.executors.ray.RayExecutor.submit_many>` as Ray *streaming generator* tasks of
:func:`~runyard.executors._chunking.run_chunk`: each task calls the function for a chunk of
argument sets and streams back each call's outcome as soon as it is known. The chunk size
starts at one call and grows while calls are fast (:class:`~runyard.executors._chunking.
ChunkSizer`); at most two chunks per worker slot are in flight, so the size adapts as
results come in and slow calls always get a task each.

Failures stay per call:

* a call that raises fails alone; the rest of its chunk runs on;
* a worker or node lost mid-chunk: the calls whose outcome already reached the driver keep
  it, the call that was running counts one lost attempt (``WorkerLost`` once it has been
  lost more than ``system_retries`` times), and the calls that never started are queued
  again, without penalty (Ray's own retry, which would rerun the whole chunk, is off);
* a value lost with its node after the call finished counts as a lost attempt of that call.

This module never imports Ray: the executor hands it the ``ray`` module.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any

from runyard.errors import InvalidArgument
from runyard.executors._chunking import ChunkSizer, ItemOutcome
from runyard.executors.base import WorkerLost

__all__ = ["IN_FLIGHT_PER_WORKER", "POLL_S", "RayChunks", "RemoteTraceback"]

IN_FLIGHT_PER_WORKER = 2
"""Chunks in flight per worker slot: one running, one queued behind it on the node."""

POLL_S = 0.02
"""How often the outcomes streamed back by running chunks are taken in, in seconds."""


class RemoteTraceback(Exception):
    """The worker's traceback, kept as the ``__cause__`` of a task's error."""


@dataclass(eq=False, slots=True)
class _Call:
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    future: Future[Any]
    lost: int = 0  # attempts whose worker was lost while this call ran


@dataclass(eq=False)
class _Batch:
    fn_ref: Any  # the function, put in the object store once for all chunks
    commit: Callable[[], object] | None
    task: Any  # the chunk task with this batch's options
    slots: int  # how many calls the cluster runs at once
    pending: deque[_Call]
    sizer: ChunkSizer = field(default_factory=ChunkSizer)
    running: set[_Chunk] = field(default_factory=set)


@dataclass(eq=False, slots=True)
class _Chunk:
    batch: _Batch
    calls: list[_Call]
    stream: Any  # Ray's ObjectRefGenerator
    taken: int = 0  # outcomes taken from the stream so far (calls[:taken] are answered)


class RayChunks:
    """Runs batches of calls as adaptive chunks on Ray; one thread settles their futures.

    Args:
        ray: the ``ray`` module.
        chunk_fn: ``ray.remote(run_chunk)``.
        system_retries: how often one call may lose its worker before it fails.
        translate: turns a Ray error into the error the caller sees.
    """

    def __init__(
        self,
        ray: Any,
        chunk_fn: Any,
        system_retries: int,
        translate: Callable[[BaseException], BaseException],
    ) -> None:
        self._ray = ray
        self._chunk_fn = chunk_fn
        self._system_retries = system_retries
        self._translate = translate
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._batches: list[_Batch] = []
        # chunks that ended, "wake" when chunks start, "stop" when the executor shuts down
        self._finished: queue.SimpleQueue[_Chunk | str] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(
        self,
        fn: Callable[..., Any],
        calls: Sequence[tuple[tuple[Any, ...], Mapping[str, Any]]],
        options: Mapping[str, Any],
        slots: int,
        commit: Callable[[], object] | None = None,
    ) -> list[Future[Any]]:
        """Queue ``fn`` over ``calls`` with the Ray task ``options``; one future per call.

        ``commit`` runs in the worker before outcomes are handed back (see
        :func:`~runyard.executors._chunking.run_chunk`).
        """
        items = []
        for args, kwargs in calls:
            future: Future[Any] = Future()
            future.set_running_or_notify_cancel()
            items.append(_Call(tuple(args), kwargs, future))
        if not items:
            return []
        # Ray's own retry would rerun a whole chunk; lost calls are requeued one by one instead.
        task = self._chunk_fn.options(
            **{**options, "num_returns": "streaming", "max_retries": 0, "retry_exceptions": False}
        )
        batch = _Batch(self._ray.put(fn), commit, task, max(1, slots), deque(items))
        with self._lock:
            if self._closed:
                raise InvalidArgument("this RayExecutor has been shut down")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._settle_loop, name="runyard-ray-chunks", daemon=True
                )
                self._thread.start()
            self._batches.append(batch)
            self._dispatch(batch)
        self._finished.put("wake")  # the settling thread polls only while chunks run
        return [item.future for item in items]

    # -- dispatch (lock held) ---------------------------------------------------------------

    def _dispatch(self, batch: _Batch) -> None:
        limit = IN_FLIGHT_PER_WORKER * batch.slots
        while batch.pending and len(batch.running) < limit:
            size = batch.sizer.next_size(len(batch.pending), batch.slots)
            calls = [batch.pending.popleft() for _ in range(size)]
            args = [(c.args, c.kwargs) for c in calls]
            stream = batch.task.remote(batch.fn_ref, args, batch.commit)
            chunk = _Chunk(batch, calls, stream)
            batch.running.add(chunk)
            stream.completed().future().add_done_callback(
                lambda _done, chunk=chunk: self._finished.put(chunk)
            )
        if not batch.pending and not batch.running and batch in self._batches:
            self._batches.remove(batch)
            self._idle.notify_all()

    # -- settling (the settling thread) -------------------------------------------------------

    def _settle_loop(self) -> None:
        """Take in outcomes as they stream back; finish chunks as they end."""
        running: list[_Chunk] = []
        while True:
            try:
                got = [self._finished.get(timeout=POLL_S if running else None)]
            except queue.Empty:
                got = []
            with contextlib.suppress(queue.Empty):
                while True:
                    got.append(self._finished.get_nowait())
            if "stop" in got:
                return
            ended = [c for c in got if isinstance(c, _Chunk)]
            with self._lock:
                running = [c for b in self._batches for c in b.running if c not in ended]
            for chunk in running:
                self._take(chunk, self._ready_refs(chunk), ended=False)
            for chunk in ended:
                self._take(chunk, self._ready_refs(chunk, to_the_end=True), ended=True)
            with self._lock:
                running = [c for b in self._batches for c in b.running]

    @staticmethod
    def _ready_refs(chunk: _Chunk, to_the_end: bool = False) -> list[Any]:
        """The references the stream has ready (all of them once the task is over).

        Taking them is what keeps them: when a task fails, Ray drops the outcomes it had
        streamed back that nobody took yet.
        """
        refs: list[Any] = []
        left = len(chunk.calls) - chunk.taken + 1  # the outcomes, then the task's own error
        with contextlib.suppress(StopIteration):
            while len(refs) < left and (to_the_end or chunk.stream.next_ready()):
                refs.append(next(chunk.stream))
        return refs

    def _take(self, chunk: _Chunk, refs: list[Any], ended: bool) -> None:
        """Settle the calls ``refs`` answer; when the chunk ``ended``, requeue what is left."""
        outcomes = self._outcomes(refs)
        first = chunk.taken
        chunk.taken += len(outcomes)
        requeue: list[_Call] = []
        settled: list[tuple[_Call, bool, Any]] = []
        seconds, measured = 0.0, 0
        for call, outcome in zip(chunk.calls[first:], outcomes, strict=False):
            if isinstance(outcome, BaseException):
                error = self._translate(outcome)
                if isinstance(error, WorkerLost) and call.lost < self._system_retries:
                    call.lost += 1
                    requeue.append(call)
                else:
                    settled.append((call, False, error))
                continue
            ok, value, tb_text, took = outcome
            seconds += took
            measured += 1
            if not ok:
                value.__cause__ = RemoteTraceback(tb_text)
            settled.append((call, ok, value))
        if ended:  # the calls after the last outcome never started: run them again
            requeue += chunk.calls[chunk.taken :]
        with self._lock:
            batch = chunk.batch
            batch.sizer.observe(measured, seconds)
            if ended:
                batch.running.discard(chunk)
            if batch in self._batches:  # else shut down without waiting: close() failed it
                batch.pending.extendleft(reversed(requeue))
                if ended:
                    self._dispatch(batch)
        for call, ok, value in settled:
            with contextlib.suppress(InvalidStateError):  # failed by close() meanwhile
                if ok:
                    call.future.set_result(value)
                else:
                    call.future.set_exception(value)

    def _outcomes(self, refs: list[Any]) -> list[ItemOutcome | BaseException]:
        """Each reference's outcome, or the error that stands in its place."""
        if not refs:
            return []
        try:
            return list(self._ray.get(refs))
        except Exception:  # noqa: BLE001 - sorted out one reference at a time below
            pass
        outcomes: list[ItemOutcome | BaseException] = []
        for ref in refs:
            try:
                outcomes.append(self._ray.get(ref))
            except Exception as e:  # noqa: BLE001 - the error is this call's outcome
                outcomes.append(e)
        return outcomes

    # -- shutdown ---------------------------------------------------------------------------

    def close(self, wait: bool) -> None:
        """Stop taking batches; with ``wait`` finish them, else fail what has not finished."""
        dropped: list[_Call] = []
        with self._lock:
            self._closed = True
            if wait:
                while self._batches:
                    self._idle.wait()
            for batch in self._batches:
                dropped += batch.pending
                batch.pending.clear()
                for chunk in batch.running:
                    dropped += chunk.calls
                    with contextlib.suppress(Exception):
                        self._ray.cancel(chunk.stream, force=True)
            self._batches.clear()
            thread, self._thread = self._thread, None
        for call in dropped:
            with contextlib.suppress(InvalidStateError):  # settled meanwhile
                call.future.set_exception(WorkerLost("the executor was shut down"))
        if thread is not None:
            self._finished.put("stop")
            thread.join(timeout=10)
