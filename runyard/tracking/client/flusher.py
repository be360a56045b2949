"""Asynchronous, batched metric logging for one run.

Points are buffered in memory and written by a background thread as idempotent batches
(each batch carries a fresh ``batch_id`` that is reused on retry, so a retry after a timeout
never duplicates points). ``flush()`` waits until everything logged so far is stored and
re-raises the first error the background thread met.
"""

from __future__ import annotations

import threading
import time
import uuid

from runyard.entities import Metric
from runyard.errors import StoreUnavailable
from runyard.tracking.store.base import TrackingStore

__all__ = ["MetricFlusher"]

_MAX_BATCH_POINTS = 10_000
_RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0, 4.0)


class MetricFlusher:
    """Buffers metric points and writes them in batches from a daemon thread.

    Args:
        store: the tracking store to write to.
        run_id: the run the points belong to.
        interval: seconds between background flushes.
        synchronous: write on every call instead (no thread); for debugging.
    """

    def __init__(
        self,
        store: TrackingStore,
        run_id: str,
        interval: float = 0.5,
        synchronous: bool = False,
    ) -> None:
        self._store = store
        self._run_id = run_id
        self._interval = interval
        self._synchronous = synchronous
        self._buffer: list[Metric] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._error: BaseException | None = None
        self._closed = False
        self._thread: threading.Thread | None = None

    def add(self, points: list[Metric]) -> None:
        """Queue points for writing; raises a stored background error first."""
        self._raise_pending()
        if self._synchronous:
            self._write(points)
            return
        with self._lock:
            self._buffer.extend(points)
            full = len(self._buffer) >= _MAX_BATCH_POINTS
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name=f"runyard-flush-{self._run_id[:8]}", daemon=True
                )
                self._thread.start()
        if full:
            self._wake.set()

    def flush(self) -> None:
        """Block until every queued point is stored; re-raise a background error."""
        if not self._synchronous:
            self._wake.set()
            with self._idle:
                while (self._buffer or self._in_flight) and self._thread_alive():
                    self._wake.set()
                    self._idle.wait(timeout=0.1)
            if self._buffer and not self._thread_alive():
                self._drain()  # no writer thread left: write what is queued from here
        self._raise_pending()

    def _thread_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Flush and stop the background thread."""
        try:
            self.flush()
        finally:
            self._closed = True
            self._wake.set()
            if self._thread is not None:
                self._thread.join(timeout=10)

    def _raise_pending(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _loop(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            self._drain()
        self._drain()

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._buffer:
                    self._idle.notify_all()
                    return
                batch = self._buffer[:_MAX_BATCH_POINTS]
                del self._buffer[:_MAX_BATCH_POINTS]
                self._in_flight += 1
            try:
                self._write(batch)
            except BaseException as e:  # kept and re-raised in the caller's thread
                with self._lock:
                    if self._error is None:
                        self._error = e
            finally:
                with self._lock:
                    self._in_flight -= 1
                    self._idle.notify_all()

    def _write(self, points: list[Metric]) -> None:
        batch_id = uuid.uuid4().hex
        for delay in (*_RETRY_DELAYS, None):
            try:
                self._store.log_batch(self._run_id, metrics=points, batch_id=batch_id)
                return
            except StoreUnavailable:
                if delay is None:
                    raise
                time.sleep(delay)
