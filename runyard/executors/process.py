"""The process executor: a warm pool of local worker processes.

Each worker is a fresh interpreter (``python -m runyard.executors._worker``) that keeps
running between tasks, so a task costs one message each way, not a process start. Tasks and
results travel with cloudpickle, so functions defined in ``__main__``, in a script loaded
from a path, or in a closure run as well as importable ones.

Unlike :class:`concurrent.futures.ProcessPoolExecutor`, one dead worker never breaks the
pool: the task it was running fails with :class:`~runyard.executors.base.WorkerLost`, a
fresh worker takes its slot, and every other task carries on. A task past its ``timeout``
has its worker killed and fails with :class:`~runyard.executors.base.TaskTimeout`.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from runyard.errors import InvalidArgument, UserCodeError
from runyard.executors._resources import check_local_resources
from runyard.executors.base import Executor, Resources, TaskTimeout, WorkerLost

__all__ = ["ProcessExecutor"]

T = TypeVar("T")


class _RemoteTraceback(Exception):
    """Carries the worker's formatted traceback as the ``__cause__`` of a task's error."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


@dataclass(slots=True)
class _Task:
    future: Future[Any]
    payload: bytes
    timeout: float | None
    label: str


_STOP = object()


class _Worker:
    """One worker process and the parent's end of its socket."""

    def __init__(self) -> None:
        parent_end, child_end = socket.socketpair()
        self.sock = parent_end
        fd = child_end.fileno()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "runyard.executors._worker", str(fd)],
            pass_fds=(fd,),
            cwd=os.getcwd(),
        )
        child_end.close()
        from multiprocessing.connection import Connection

        self.conn = Connection(os.dup(parent_end.fileno()))
        parent_end.close()
        self.conn.send_bytes(pickle.dumps(list(sys.path)))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send_bytes(b"")
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.conn.close()

    def exit_description(self) -> str:
        code = self.proc.wait()
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exited with status {code}"


class ProcessExecutor(Executor):
    """A warm pool of local worker processes.

    Args:
        max_workers: how many tasks run at once (default: the number of CPUs).

    Example:
        >>> from runyard.executors import ProcessExecutor
        >>> with ProcessExecutor(max_workers=2) as ex:
        ...     ex.submit(pow, 2, 10).result()
        1024
    """

    name = "process"

    def __init__(self, max_workers: int | None = None) -> None:
        workers = max_workers if max_workers is not None else (os.cpu_count() or 1)
        if workers < 1:
            raise InvalidArgument(f"max_workers must be at least 1, got {workers}")
        self._max_workers = workers
        self._queue: queue.SimpleQueue[_Task | object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._abandoned = False
        self._workers: list[_Worker | None] = [None] * workers
        self._threads = [
            threading.Thread(
                target=self._serve, args=(i,), name=f"runyard-process-{i}", daemon=True
            )
            for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    # -- public ---------------------------------------------------------------------------

    @property
    def parallelism(self) -> int:
        """The number of worker processes."""
        return self._max_workers

    @property
    def supports_timeouts(self) -> bool:
        """True: a task past its timeout has its worker killed."""
        return True

    @property
    def isolates_tasks(self) -> bool:
        """True: every task runs in a separate worker process."""
        return True

    def describe_worker(self) -> str:
        """Where tasks run."""
        return f"process pool ({self._max_workers} workers)"

    def prestart(self) -> None:
        """Start every worker now, so the first tasks do not wait for interpreters."""
        with self._lock:
            for i, w in enumerate(self._workers):
                if w is None:
                    self._workers[i] = _Worker()

    def submit(
        self,
        fn: Callable[..., T],
        /,
        *args: Any,
        resources: Resources | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Future[T]:
        """Queue ``fn(*args, **kwargs)`` for a worker and return its future.

        Raises:
            InvalidArgument: the executor is shut down, ``resources`` exceed the machine,
                ``timeout`` is not positive, or the task cannot be pickled.
        """
        check_local_resources(resources, self.name)
        if timeout is not None and not timeout > 0:
            raise InvalidArgument(f"timeout must be a positive number of seconds, got {timeout}")
        import cloudpickle  # type: ignore[import-untyped]

        label = getattr(fn, "__qualname__", None) or repr(fn)
        try:
            payload = bytes(cloudpickle.dumps((fn, args, kwargs)))
        except Exception as e:  # pickling runs arbitrary __reduce__ code
            raise InvalidArgument(f"task {label} cannot be sent to a worker: {e}") from e
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise InvalidArgument("the process executor is shut down")
            self._queue.put(_Task(future, payload, timeout, label))
        return future

    def shutdown(self, wait: bool = True) -> None:
        """Stop the pool.

        With ``wait``, queued and running tasks finish first. Without it, queued tasks are
        cancelled and running ones are stopped (their futures raise ``WorkerLost``).
        """
        with self._lock:
            if self._closed:
                already = True
            else:
                already = False
                self._closed = True
                self._abandoned = not wait
        if not already:
            if not wait:
                self._cancel_queued()
            for _ in self._threads:
                self._queue.put(_STOP)
            if not wait:
                with self._lock:
                    running = [w for w in self._workers if w is not None]
                for w in running:
                    if w.proc.poll() is None:
                        w.proc.kill()
        if wait:
            for t in self._threads:
                t.join()

    # -- the slot threads -----------------------------------------------------------------

    def _cancel_queued(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Task):
                item.future.cancel()

    def _worker_for(self, slot: int) -> _Worker:
        with self._lock:
            worker = self._workers[slot]
            if worker is None:
                worker = self._workers[slot] = _Worker()
            return worker

    def _drop_worker(self, slot: int) -> None:
        with self._lock:
            worker, self._workers[slot] = self._workers[slot], None
        if worker is not None:
            worker.kill()

    def _serve(self, slot: int) -> None:
        while True:
            item = self._queue.get()
            if not isinstance(item, _Task):
                break
            if item.future.set_running_or_notify_cancel():
                self._run(slot, item)
        with self._lock:
            worker, self._workers[slot] = self._workers[slot], None
        if worker is not None:
            worker.stop()

    def _run(self, slot: int, task: _Task) -> None:
        try:
            worker = self._worker_for(slot)
        except OSError as e:
            task.future.set_exception(WorkerLost(f"could not start a worker process: {e}"))
            return
        try:
            worker.conn.send_bytes(task.payload)
            if not worker.conn.poll(task.timeout):
                self._drop_worker(slot)
                task.future.set_exception(
                    TaskTimeout(f"task {task.label} ran past its timeout of {task.timeout:g}s")
                )
                return
            message = worker.conn.recv_bytes()
        except (EOFError, OSError):
            why = worker.exit_description()
            self._drop_worker(slot)
            reason = "the executor was shut down" if self._abandoned else why
            task.future.set_exception(
                WorkerLost(f"worker pid {worker.proc.pid} running {task.label}: {reason}")
            )
            return
        self._settle(task, message)

    @staticmethod
    def _settle(task: _Task, message: bytes) -> None:
        import cloudpickle

        try:
            ok, value, tb_text = cloudpickle.loads(message)
        except Exception as e:  # unpickling the result runs arbitrary code
            task.future.set_exception(
                UserCodeError(task.label, InvalidArgument(f"its result could not be read: {e}"))
            )
            return
        if ok:
            task.future.set_result(value)
        elif isinstance(value, BaseException):
            value.__cause__ = _RemoteTraceback(tb_text)
            task.future.set_exception(value)
        else:
            task.future.set_exception(UserCodeError(task.label, _RemoteTraceback(tb_text)))
