"""Dynamic batching: requests for one model are merged into batches on one worker thread.

A batch holds at most ``max_batch_size`` rows (a larger request runs alone); requests join a
batch only when their non-batch dimensions and datatypes agree. A failing batch fails only
its requests. ``max_batch_size=1`` runs every request on its own (no batching).

The delay is adaptive: a request waits up to ``max_queue_delay`` for others only while they
arrive closer together than that delay (both an average of recent gaps and the gap just
before it), so an idle or lightly loaded server adds no queueing to any request, and neither
does the first request after a pause. With a delay of 0 the batcher is greedy: a
batch is whatever queued while the previous one ran.

Requests from an asyncio event loop (:meth:`DynamicBatcher.submit_async`, or
:meth:`DynamicBatcher.submit_callback` to be answered through a plain callback rather than a
future) are answered with one ``call_soon_threadsafe`` per batch, not one wake-up of the loop
per request. A batcher made ``inline`` (a model that predicts a whole batch in microseconds)
runs its batches on the event loop instead: requests parsed in one turn of the loop are
collected in a list and run as one batch by a single callback in the next turn, with no
thread hand-off at all; a lone request on an idle model runs in that next turn, so it waits
for nothing but one pass of the loop.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from runyard.errors import RunyardError, UserCodeError

__all__ = ["Answer", "BatchConfig", "BatcherClosed", "DynamicBatcher"]

log = logging.getLogger("runyard.serving")

Arrays = dict[str, np.ndarray[Any, Any]]
Answer = Callable[[Arrays | BaseException], None]
"""Called on the event loop with a request's outputs, or the error that failed its batch."""
Predict = Callable[[Arrays], Arrays]
Observer = Callable[[int, float], None]
"""Called after each batch with (rows in the batch, seconds the oldest request queued)."""


class BatcherClosed(RunyardError):
    """The batcher stopped taking requests (its model is being replaced or shut down)."""


@dataclass(frozen=True, slots=True)
class BatchConfig:
    """How a model's requests are batched.

    Attributes:
        max_batch_size: the most rows in one batch (1 disables batching).
        max_queue_delay: seconds a request may wait for others to join its batch (0:
            greedy — run at once with whatever queued while the previous batch ran).
        inline_below: a model whose warm-up batch of ``max_batch_size`` rows predicts in
            less than this many seconds runs on the event loop itself (no thread hand-off
            per batch); slower models run on the batcher's worker thread. 0: never inline.

    Example:
        >>> BatchConfig(max_batch_size=64, max_queue_delay=0.002).enabled
        True
    """

    max_batch_size: int = 64
    max_queue_delay: float = 0.0
    inline_below: float = 0.002

    @property
    def enabled(self) -> bool:
        """True when requests may be merged."""
        return self.max_batch_size > 1


@dataclass(slots=True)
class _Item:
    inputs: Arrays
    rows: int
    key: tuple[Any, ...]
    future: Future[Arrays] | asyncio.Future[Arrays] | Answer
    enqueued: float
    loop: asyncio.AbstractEventLoop | None = None


def _deliver(answers: list[tuple[asyncio.Future[Arrays] | Answer, Arrays | BaseException]]) -> None:
    """Runs on the event loop: settle the futures (or call the callbacks) of one batch."""
    for sink, answer in answers:
        if not isinstance(sink, asyncio.Future):
            try:
                sink(answer)
            except Exception:  # noqa: BLE001 - one bad callback must not strand the others
                log.exception("answering a request failed")
            continue
        if sink.done():  # the request was cancelled (client gone)
            continue
        if isinstance(answer, BaseException):
            sink.set_exception(answer)
        else:
            sink.set_result(answer)


def _key(inputs: Arrays) -> tuple[Any, ...]:
    if len(inputs) == 1:  # the common case, without sorting
        [(k, v)] = inputs.items()
        return ((k, v.shape[1:], v.dtype.str),)
    return tuple((k, v.shape[1:], v.dtype.str) for k, v in sorted(inputs.items()))


class DynamicBatcher:
    """Merges concurrent requests of one model into batches run on one worker thread.

    Example:
        >>> b = DynamicBatcher(lambda x: {"y": x["x"] * 2}, BatchConfig())
        >>> b.submit({"x": np.ones((2, 3))}).result()["y"].shape
        (2, 3)
        >>> b.close()
    """

    def __init__(
        self,
        predict: Predict,
        config: BatchConfig,
        observe: Observer | None = None,
        name: str = "model",
        inline: bool = False,
    ) -> None:
        self._predict = predict
        self._inline = inline
        self._model_lock = threading.Lock()  # a model sees one call at a time
        self._waiting: list[_Item] = []  # inline mode: requests of this turn of the loop
        self._waiting_rows = 0
        self._flush: asyncio.Handle | None = None
        self._inline_last = 0.0
        self._inline_gap = float("inf")
        self._config = config
        self._observe = observe
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._carry: _Item | None = None
        self._last_arrival = 0.0
        self._gap = float("inf")  # average seconds between arrivals, as the worker sees them
        self._last_gap = float("inf")  # seconds between the last two arrivals
        self._thread = threading.Thread(target=self._loop, name=f"batcher-{name}", daemon=True)
        self._thread.start()

    @property
    def inline(self) -> bool:
        """True when async requests run on the event loop rather than the worker thread."""
        return self._inline

    @property
    def pending(self) -> int:
        """Requests submitted and not yet answered."""
        return self._pending

    def _enqueue(self, inputs: Arrays, fut: Any, loop: asyncio.AbstractEventLoop | None) -> None:
        rows = next(iter(inputs.values())).shape[0] if inputs else 0
        with self._lock:
            if self._closed:
                raise BatcherClosed("this model version is no longer served")
            self._pending += 1
        self._queue.put(_Item(inputs, rows, _key(inputs), fut, time.perf_counter(), loop))

    def submit(self, inputs: Arrays) -> Future[Arrays]:
        """Queue one request (its arrays share the first dimension). Raises BatcherClosed."""
        fut: Future[Arrays] = Future()
        self._enqueue(inputs, fut, None)
        return fut

    def submit_async(self, inputs: Arrays) -> asyncio.Future[Arrays]:
        """Like :meth:`submit`, from a running event loop; await the returned future."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Arrays] = loop.create_future()
        self._submit_on_loop(inputs, fut, loop)
        return fut

    def submit_callback(self, inputs: Arrays, answer: Answer) -> None:
        """From a running event loop: queue a request; ``answer`` is called on that loop.

        No future and no task: an inline batcher calls ``answer`` from the batch itself, so
        the answer can be written out in the same turn of the loop that ran the model.
        Raises BatcherClosed.
        """
        self._submit_on_loop(inputs, answer, asyncio.get_running_loop())

    def _submit_on_loop(
        self,
        inputs: Arrays,
        fut: asyncio.Future[Arrays] | Answer,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        if not self._inline:
            self._enqueue(inputs, fut, loop)
            return
        rows = next(iter(inputs.values())).shape[0] if inputs else 0
        with self._lock:
            if self._closed:
                raise BatcherClosed("this model version is no longer served")
            self._pending += 1
        now = time.perf_counter()
        self._waiting.append(_Item(inputs, rows, _key(inputs), fut, now, loop))
        delay = self._config.max_queue_delay
        if delay <= 0:  # greedy: the batch is what arrives before the next turn of the loop
            if self._flush is None:
                self._flush = loop.call_soon(self._run_waiting)
            return
        self._waiting_rows += rows
        gap = now - self._inline_last if self._inline_last else float("inf")
        if self._inline_last:
            g = self._inline_gap
            self._inline_gap = gap if g == float("inf") else 0.8 * g + 0.2 * gap
        self._inline_last = now
        limit = self._config.max_batch_size
        full = self._waiting_rows >= limit
        if self._flush is None:
            # wait for company only while requests come closer together than the delay,
            # on average and just now: the first request after a pause runs at once
            if not full and limit > 1 and max(gap, self._inline_gap) < delay:
                self._flush = loop.call_later(delay, self._run_waiting)
            else:
                self._flush = loop.call_soon(self._run_waiting)
        elif full and isinstance(self._flush, asyncio.TimerHandle):
            self._flush.cancel()
            self._flush = loop.call_soon(self._run_waiting)

    def _run_waiting(self) -> None:
        """Inline mode, on the event loop: run everything collected, in batches."""
        self._flush = None
        items, self._waiting, self._waiting_rows = self._waiting, [], 0
        limit = self._config.max_batch_size
        if limit > 1:  # the common case: one kind of request, one batch's worth or less
            key, total = items[0].key, 0
            for item in items:
                if item.key != key:
                    break
                total += item.rows
            else:
                if total <= limit:
                    self._run(items, on_loop=True)
                    return
        open_batches: dict[tuple[Any, ...], tuple[list[_Item], int]] = {}
        for item in items:
            batch, rows = open_batches.get(item.key, ([], 0))
            if batch and (limit <= 1 or rows + item.rows > limit):
                self._run(batch, on_loop=True)
                batch, rows = [], 0
            batch.append(item)
            open_batches[item.key] = (batch, rows + item.rows)
        for batch, _ in open_batches.values():
            self._run(batch, on_loop=True)

    def close(self, drain: bool = True, timeout: float | None = None) -> None:
        """Stop taking requests; with ``drain``, answer the queued ones first."""
        with self._lock:
            self._closed = True
            if drain:
                self._idle.wait_for(lambda: self._pending == 0, timeout)
        self._queue.put(None)
        self._thread.join(timeout)

    # -- worker ---------------------------------------------------------------------------

    def _next(self, timeout: float | None) -> _Item | None:
        if self._carry is not None:
            item, self._carry = self._carry, None
            return item
        try:
            got = (
                self._queue.get(timeout=timeout)
                if timeout is None or timeout > 0
                else self._queue.get_nowait()
            )
        except queue.Empty:
            return None
        if got is not None:
            gap = got.enqueued - self._last_arrival if self._last_arrival else float("inf")
            if self._last_arrival:
                self._gap = gap if self._gap == float("inf") else 0.8 * self._gap + 0.2 * gap
            self._last_arrival = got.enqueued
            self._last_gap = gap
        return got

    def _collect(self, first: _Item) -> list[_Item]:
        batch, rows = [first], first.rows
        limit = self._config.max_batch_size
        if limit <= 1 or rows >= limit:
            return batch
        delay = self._config.max_queue_delay
        # adaptive: wait for company only while requests come closer together than the delay
        # (on average and just now: the first request after a pause runs at once)
        waits = delay > 0 and max(self._gap, self._last_gap) < delay
        deadline = first.enqueued + delay if waits else 0.0
        while rows < limit:
            item = self._next(max(0.0, deadline - time.perf_counter()))
            if item is None:
                break
            if item.key != first.key or rows + item.rows > limit:
                self._carry = item
                break
            batch.append(item)
            rows += item.rows
        return batch

    def _loop(self) -> None:
        while True:
            first = self._next(None)
            if first is None:
                if self._carry is None and self._closed:
                    return
                continue
            batch = self._collect(first)
            self._run(batch)
            if self._carry is None and self._closed and self._queue.empty() and self._pending == 0:
                return

    def _answers(self, batch: list[_Item]) -> list[Arrays | BaseException]:
        try:
            if len(batch) == 1:
                with self._model_lock:
                    return [self._predict(batch[0].inputs)]
            merged = {k: np.concatenate([i.inputs[k] for i in batch]) for k in batch[0].inputs}
            with self._model_lock:
                out = self._predict(merged)
            results: list[Arrays | BaseException] = []
            start = 0
            for item in batch:
                end = start + item.rows
                results.append({k: v[start:end] for k, v in out.items()})
                start = end
            return results
        except Exception as e:  # the model's own failure: fail this batch, keep serving
            err = UserCodeError("model predict", e)
            return [err] * len(batch)

    def _run(self, batch: list[_Item], on_loop: bool = False) -> None:
        """Run one batch and settle its futures (``on_loop``: called on their event loop)."""
        waited = time.perf_counter() - batch[0].enqueued
        answers = self._answers(batch)
        if on_loop:  # answered right here, whatever loop each request came from
            # (an inline batch holds only requests from a loop: asyncio futures or callbacks)
            settled = [(item.future, answer) for item, answer in zip(batch, answers, strict=True)]
            _deliver(
                cast(list[tuple[asyncio.Future[Arrays] | Answer, Arrays | BaseException]], settled)
            )
            self._batch_done(batch, waited)
            return
        by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
        for item, answer in zip(batch, answers, strict=True):
            if item.loop is not None:
                by_loop.setdefault(item.loop, []).append((item.future, answer))
            elif not isinstance(item.future, Future):
                raise TypeError("a callback request needs its event loop")  # pragma: no cover
            elif isinstance(answer, BaseException):
                item.future.set_exception(answer)
            else:
                item.future.set_result(answer)
        for loop, pairs in by_loop.items():
            try:
                loop.call_soon_threadsafe(_deliver, pairs)
            except RuntimeError:  # that loop is closed: nobody waits for these answers
                pass
        self._batch_done(batch, waited)

    def _batch_done(self, batch: list[_Item], waited: float) -> None:
        if self._observe is not None:
            self._observe(sum(i.rows for i in batch), waited)
        with self._lock:
            self._pending -= len(batch)
            if self._pending == 0:
                self._idle.notify_all()
