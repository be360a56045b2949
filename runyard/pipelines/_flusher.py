"""A background thread that writes the runner's queued records, so the runner need not wait.

The runner asks for a write with a deadline (:meth:`BackgroundWriter.request`); at the
deadline the thread calls ``write`` (the recorder's flush: make blobs durable, then write the
runs, cache entries and ends), then ``written`` (which reports the calls that write settled,
when the runner lets it). Meanwhile the runner goes on with the next steps: the disk's and
the database's waits are not on its path. A write that fails leaves its records queued; the
error is kept in :attr:`BackgroundWriter.error` for the runner to raise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["BackgroundWriter"]


class BackgroundWriter:
    """Calls ``write`` and then ``written`` on its own thread once a requested deadline passes.

    Args:
        write: writes what is queued (thread-safe against the runner's queueing).
        written: called after each successful write.
    """

    def __init__(self, write: Callable[[], None], written: Callable[[], None]) -> None:
        self._write = write
        self._written = written
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        """The error of the last background write that failed (for the runner to raise)."""

    def request(self, deadline: float) -> None:
        """Write at ``deadline`` (``time.monotonic()``), or earlier if asked earlier already."""
        with self._cond:
            if self._deadline is not None and self._deadline <= deadline:
                return
            self._deadline = deadline
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="runyard-pipeline-writer", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def stop(self) -> None:
        """Stop the thread, after the write it is making; what is queued stays queued."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    if self._deadline is None:
                        self._cond.wait()
                        continue
                    left = self._deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                if self._stopped:
                    return
                self._deadline = None
            try:
                self._write()
            except Exception as e:  # what was not written stays queued for the runner
                self.error = e
                continue
            try:
                self._written()
            except Exception as e:  # e.g. a progress callback's error: the runner raises it
                self.error = e
