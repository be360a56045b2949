"""The process pool beyond the shared contract: what a user sees when things go wrong."""

import threading
import time

import pytest

from runyard.errors import InvalidArgument
from runyard.executors import ProcessExecutor, WorkerLost
from runyard.testing.executor import add, sleep_then


def test_unpicklable_task_is_refused_at_submit_and_the_pool_keeps_working() -> None:
    with ProcessExecutor(max_workers=1) as ex:
        with pytest.raises(InvalidArgument, match="cannot be sent to a worker"):
            ex.submit(add, threading.Lock(), 1)
        assert ex.submit(add, 1, 2).result(timeout=60) == 3


def test_submit_after_shutdown_is_refused() -> None:
    ex = ProcessExecutor(max_workers=1)
    ex.shutdown()
    with pytest.raises(InvalidArgument, match="shut down"):
        ex.submit(add, 1, 2)


def test_shutdown_with_wait_finishes_queued_work() -> None:
    ex = ProcessExecutor(max_workers=1)
    futures = [ex.submit(sleep_then, 0.05, i) for i in range(5)]
    ex.shutdown(wait=True)
    assert [f.result() for f in futures] == list(range(5))


def test_shutdown_without_wait_cancels_queued_and_stops_running_tasks() -> None:
    ex = ProcessExecutor(max_workers=1)
    running = ex.submit(sleep_then, 120, "never")
    queued = ex.submit(add, 1, 1)
    time.sleep(0.5)  # let the first task reach the worker
    ex.shutdown(wait=False)
    with pytest.raises(WorkerLost, match="shut down"):
        running.result(timeout=60)
    assert queued.cancelled()


def test_an_unpicklable_result_is_reported_not_hung() -> None:
    with ProcessExecutor(max_workers=1) as ex:
        future = ex.submit(threading.Lock)
        with pytest.raises(Exception, match="could not be pickled"):
            future.result(timeout=60)
        assert ex.submit(add, 2, 2).result(timeout=60) == 4


def test_zero_workers_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="at least 1"):
        ProcessExecutor(max_workers=0)
