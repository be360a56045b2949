"""The inline executor: runs each task in the calling thread, for debugging.

A task runs inside :meth:`InlineExecutor.submit`, so a debugger's breakpoints and
``print`` work as in plain Python. It cannot stop a running task, so ``timeout`` is ignored
(:attr:`~runyard.executors.base.Executor.supports_timeouts` is False).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from runyard.errors import InvalidArgument
from runyard.executors._resources import check_local_resources
from runyard.executors.base import Executor, Resources

__all__ = ["InlineExecutor"]

T = TypeVar("T")


class InlineExecutor(Executor):
    """Runs tasks immediately, in the caller's thread.

    ``submit`` returns an already-completed future. ``KeyboardInterrupt`` and
    ``SystemExit`` raised by a task propagate out of ``submit`` instead of being stored.

    Example:
        >>> from runyard.executors import InlineExecutor
        >>> with InlineExecutor() as ex:
        ...     ex.submit(pow, 2, 10).result()
        1024
    """

    name = "inline"

    def __init__(self) -> None:
        self._closed = False
        self._lock = threading.Lock()

    def submit(
        self,
        fn: Callable[..., T],
        /,
        *args: Any,
        resources: Resources | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` now and return its completed future.

        Raises:
            InvalidArgument: the executor is shut down, or ``resources`` exceed the machine.
        """
        if self._closed:
            raise InvalidArgument("the inline executor is shut down")
        check_local_resources(resources, self.name)
        future: Future[T] = Future()
        future.set_running_or_notify_cancel()
        try:
            result = fn(*args, **kwargs)
        except Exception as e:  # the task's own error belongs to its future
            future.set_exception(e)
        else:
            future.set_result(result)
        return future

    def describe_worker(self) -> str:
        """Where tasks run: this thread."""
        return "inline (this thread)"

    def shutdown(self, wait: bool = True) -> None:
        """Mark the executor closed (nothing runs in the background)."""
        with self._lock:
            self._closed = True
