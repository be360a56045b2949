"""Settling the futures of chained Ray tasks from a thread of our own, with ``ray.wait``.

Ray's ``ref.future()`` settles a future from a callback on Ray's own I/O thread, and that
callback must take the GIL. While the driver's Python is busy, the I/O thread waits for
the GIL — up to a switch interval, 5 ms — and so does everything else it does, the
dispatch of the tasks waiting for that very result among it. A chain of tasks submitted
ahead (:meth:`RayExecutor.submit_after <runyard.executors.ray.RayExecutor.submit_after>`)
runs while the driver is busy recording the steps before: with a callback per task it
went at a third of its speed. :class:`RefWatcher` leaves Ray's thread alone: one thread of
ours waits with ``ray.wait`` (which lets go of the GIL) and settles what is ready.

A ``ray.wait`` costs about 0.2 ms of CPU whatever it waits for, so the thread takes what
finished in batches: it waits on the :data:`WAIT_ON` oldest references (a chain's tasks
finish in the order they were submitted) until all of them are ready or
:data:`FIRST_WAIT_S` has passed, and looks at every reference when such a wait finds
nothing. While nothing finishes the timeout grows to :data:`LONGEST_WAIT_S`. A chained
task is *noticed* late by at most that timeout; the tasks after it do not wait for it,
only the driver's bookkeeping does.

This module never imports Ray: the executor hands it the ``ray`` module.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["FIRST_WAIT_S", "LONGEST_WAIT_S", "WAIT_ON", "RefWatcher"]

WAIT_ON = 32
"""How many of the oldest watched references one wait covers."""

FIRST_WAIT_S = 0.02
"""The ``ray.wait`` timeout after something was ready, in seconds."""

LONGEST_WAIT_S = 0.05
"""The longest ``ray.wait`` timeout, reached while nothing is ready."""

Settle = Callable[[Any, BaseException | None], None]
"""Called with the task's value and None, or None and the error ``ray.get`` raised."""


class RefWatcher:
    """Waits on Ray references on one thread and calls each one's ``settle`` once it is ready.

    Args:
        ray: the ``ray`` module.
    """

    def __init__(self, ray: Any) -> None:
        self._ray = ray
        self._pending: dict[Any, Settle] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def watch(self, ref: Any, settle: Settle) -> None:
        """Call ``settle`` (on the watcher's thread) once ``ref`` is ready."""
        with self._cond:
            self._pending[ref] = settle
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="runyard-ray-watch", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def close(self, wait: bool) -> list[tuple[Any, Settle]]:
        """Stop the thread; with ``wait`` once nothing is pending. Returns what was left."""
        with self._cond:
            while wait and self._pending and self._thread is not None:
                self._cond.wait()
            self._closed = True
            left = list(self._pending.items())
            self._pending.clear()
            thread, self._thread = self._thread, None
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout=10)
        return left

    def _loop(self) -> None:
        ray = self._ray
        timeout = FIRST_WAIT_S
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                oldest = list(itertools.islice(self._pending, WAIT_ON))
                everything = len(self._pending) <= WAIT_ON
            ready, _ = ray.wait(oldest, num_returns=len(oldest), timeout=timeout, fetch_local=False)
            if ready:
                timeout = FIRST_WAIT_S
            else:
                timeout = min(2 * timeout, LONGEST_WAIT_S)
                if everything:
                    continue
                with self._cond:
                    refs = list(self._pending)
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)
            with self._cond:
                settles = [(ref, self._pending.pop(ref)) for ref in ready if ref in self._pending]
                if not self._pending:
                    self._cond.notify_all()  # close(wait=True) may be waiting
            try:
                values = ray.get([ref for ref, _ in settles])
            except BaseException:  # noqa: BLE001 - one of them failed: each on its own below
                values = None
            for i, (ref, settle) in enumerate(settles):
                if values is not None:
                    settle(values[i], None)
                    continue
                try:
                    value = ray.get(ref)
                except BaseException as e:  # noqa: BLE001 - the task's error, for its future
                    settle(None, e)
                else:
                    settle(value, None)
