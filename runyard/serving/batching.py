"""Dynamic batching: requests for one model are merged into batches on one worker thread.

A request waits at most ``max_queue_delay`` for others to join it; a batch holds at most
``max_batch_size`` rows (a larger request runs alone). Requests join a batch only when
their non-batch dimensions and datatypes agree. A failing batch fails only its requests.
``max_batch_size=1`` runs every request on its own (no batching).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from runyard.errors import RunyardError, UserCodeError

__all__ = ["BatchConfig", "BatcherClosed", "DynamicBatcher"]

Arrays = dict[str, np.ndarray[Any, Any]]
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

    Example:
        >>> BatchConfig(max_batch_size=64, max_queue_delay=0.002).enabled
        True
    """

    max_batch_size: int = 64
    max_queue_delay: float = 0.0

    @property
    def enabled(self) -> bool:
        """True when requests may be merged."""
        return self.max_batch_size > 1


@dataclass(slots=True)
class _Item:
    inputs: Arrays
    rows: int
    key: tuple[Any, ...]
    future: Future[Arrays]
    enqueued: float


def _key(inputs: Arrays) -> tuple[Any, ...]:
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
    ) -> None:
        self._predict = predict
        self._config = config
        self._observe = observe
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._carry: _Item | None = None
        self._thread = threading.Thread(target=self._loop, name=f"batcher-{name}", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Requests submitted and not yet answered."""
        return self._pending

    def submit(self, inputs: Arrays) -> Future[Arrays]:
        """Queue one request (its arrays share the first dimension). Raises BatcherClosed."""
        fut: Future[Arrays] = Future()
        rows = next(iter(inputs.values())).shape[0] if inputs else 0
        with self._lock:
            if self._closed:
                raise BatcherClosed("this model version is no longer served")
            self._pending += 1
        self._queue.put(_Item(inputs, rows, _key(inputs), fut, time.perf_counter()))
        return fut

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
            return (
                self._queue.get(timeout=timeout)
                if timeout is None or timeout > 0
                else (self._queue.get_nowait())
            )
        except queue.Empty:
            return None

    def _collect(self, first: _Item) -> list[_Item]:
        batch, rows = [first], first.rows
        limit = self._config.max_batch_size
        if limit <= 1 or rows >= limit:
            return batch
        deadline = first.enqueued + self._config.max_queue_delay
        while rows < limit:
            item = self._next(max(0.0, deadline - time.perf_counter()))
            if item is None:
                if time.perf_counter() >= deadline:
                    break
                continue
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

    def _run(self, batch: list[_Item]) -> None:
        waited = time.perf_counter() - batch[0].enqueued
        try:
            if len(batch) == 1:
                results = [self._predict(batch[0].inputs)]
            else:
                merged = {k: np.concatenate([i.inputs[k] for i in batch]) for k in batch[0].inputs}
                out = self._predict(merged)
                results = []
                start = 0
                for item in batch:
                    end = start + item.rows
                    results.append({k: v[start:end] for k, v in out.items()})
                    start = end
        except Exception as e:  # the model's own failure: fail this batch, keep serving
            err = UserCodeError("model predict", e)
            for item in batch:
                item.future.set_exception(err)
        else:
            for item, result in zip(batch, results, strict=True):
                item.future.set_result(result)
        if self._observe is not None:
            self._observe(sum(i.rows for i in batch), waited)
        with self._lock:
            self._pending -= len(batch)
            if self._pending == 0:
                self._idle.notify_all()
