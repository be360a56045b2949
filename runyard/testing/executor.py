"""The conformance suite every :class:`~runyard.executors.base.Executor` passes.

Subclass :class:`ExecutorSuite` in a test module and provide an ``executor`` fixture; the
suite's tests then run against it. Executors that cannot stop a running task
(``supports_timeouts``) or cannot survive a task killing its own process
(``isolates_tasks``) skip those tests through the hooks, never through ``isinstance``.

Example:
    .. code-block:: python

        import pytest
        from runyard.executors import ProcessExecutor
        from runyard.testing.executor import ExecutorSuite

        class TestProcessExecutor(ExecutorSuite):
            __test__ = True

            @pytest.fixture(scope="class")
            def executor(self):
                with ProcessExecutor(max_workers=2) as ex:
                    yield ex
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import Future, wait
from typing import Any

import pytest

from runyard.errors import InvalidArgument
from runyard.executors.base import Executor, Resources, TaskTimeout, WorkerLost

__all__ = ["ExecutorSuite"]


class TaskFailed(ValueError):
    """The error the suite's failing task raises (a user-defined exception type)."""


def add(a: int, b: int = 0) -> int:
    """Return ``a + b``."""
    return a + b


def fail(message: str) -> None:
    """Raise :class:`TaskFailed`."""
    raise TaskFailed(message)


def sleep_then(seconds: float, value: Any) -> Any:
    """Sleep, then return ``value``."""
    time.sleep(seconds)
    return value


def kill_own_process() -> None:
    """Die as if the OOM killer struck."""
    os.kill(os.getpid(), signal.SIGKILL)


def worker_pid() -> int:
    """The id of the process the task runs in."""
    return os.getpid()


class ExecutorSuite:
    """Tests that pin the executor contract; needs an ``executor`` fixture.

    Subclasses set ``__test__ = True`` so pytest collects them.
    """

    __test__ = False

    def test_returns_the_value(self, executor: Executor) -> None:
        """Returns the value."""
        assert executor.submit(add, 2, b=3).result(timeout=60) == 5

    def test_many_tasks_each_get_their_own_result(self, executor: Executor) -> None:
        """Many tasks each get their own result."""
        futures = [executor.submit(add, i, i) for i in range(200)]
        assert [f.result(timeout=120) for f in futures] == [2 * i for i in range(200)]

    def test_user_error_keeps_its_type_and_message(self, executor: Executor) -> None:
        """User error keeps its type and message."""
        future = executor.submit(fail, "bad batch 7")
        with pytest.raises(TaskFailed, match="bad batch 7"):
            future.result(timeout=60)

    def test_closures_and_lambdas_run(self, executor: Executor) -> None:
        """Closures and lambdas run."""
        offset = 40
        assert executor.submit(lambda x: x + offset, 2).result(timeout=60) == 42

    def test_large_values_travel_both_ways(self, executor: Executor) -> None:
        """Large values travel both ways."""
        blob = bytes(range(256)) * 40_000  # 10 MB
        assert executor.submit(bytes.upper, blob).result(timeout=120) == blob.upper()

    def test_submit_is_thread_safe(self, executor: Executor) -> None:
        """Submit is thread safe."""
        results: list[Future[int]] = []
        lock = threading.Lock()

        def submit_some(base: int) -> None:
            for i in range(25):
                f = executor.submit(add, base, i)
                with lock:
                    results.append(f)

        threads = [threading.Thread(target=submit_some, args=(b * 100,)) for b in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = sorted(f.result(timeout=120) for f in results)
        assert got == sorted(b * 100 + i for b in range(4) for i in range(25))

    def test_impossible_resources_fail_fast(self, executor: Executor) -> None:
        """Impossible resources fail fast."""
        with pytest.raises(InvalidArgument):
            executor.submit(add, 1, resources=Resources(cpus=1_000_000))

    def test_parallelism_is_positive(self, executor: Executor) -> None:
        """Parallelism is positive."""
        assert executor.parallelism >= 1
        assert executor.describe_worker()

    def test_timeout_stops_the_task(self, executor: Executor) -> None:
        """Timeout stops the task."""
        if not executor.supports_timeouts:
            pytest.skip(f"{executor.name} cannot stop a running task")
        slow = executor.submit(sleep_then, 120, "late", timeout=0.5)
        with pytest.raises(TaskTimeout):
            slow.result(timeout=60)
        assert executor.submit(add, 1, 1).result(timeout=60) == 2

    def test_lost_worker_surfaces_and_the_executor_recovers(self, executor: Executor) -> None:
        """Lost worker surfaces and the executor recovers."""
        if not executor.isolates_tasks:
            pytest.skip(f"{executor.name} runs tasks in the caller's process")
        doomed = executor.submit(kill_own_process)
        with pytest.raises(WorkerLost):
            doomed.result(timeout=60)
        after = [executor.submit(add, i, 1) for i in range(10)]
        assert [f.result(timeout=60) for f in after] == list(range(1, 11))

    def test_a_lost_worker_does_not_fail_other_tasks(self, executor: Executor) -> None:
        """A lost worker does not fail other tasks."""
        if not executor.isolates_tasks or executor.parallelism < 2:
            pytest.skip(f"{executor.name} cannot lose one worker while another runs")
        survivor = executor.submit(sleep_then, 1.0, "survived")
        time.sleep(0.2)
        doomed = executor.submit(kill_own_process)
        wait([doomed, survivor], timeout=60)
        assert isinstance(doomed.exception(), WorkerLost)
        assert survivor.result() == "survived"

    def test_tasks_run_outside_the_caller_when_isolated(self, executor: Executor) -> None:
        """Tasks run outside the caller when isolated."""
        pid = executor.submit(worker_pid).result(timeout=60)
        assert (pid != os.getpid()) == executor.isolates_tasks
