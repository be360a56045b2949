"""Every local executor passes the shipped conformance suite."""

from collections.abc import Iterator

import pytest

from runyard.executors import Executor, InlineExecutor, ProcessExecutor
from runyard.testing.executor import ExecutorSuite


class TestInlineExecutor(ExecutorSuite):
    __test__ = True

    @pytest.fixture(scope="class")
    def executor(self) -> Iterator[Executor]:
        with InlineExecutor() as ex:
            yield ex


class TestProcessExecutor(ExecutorSuite):
    __test__ = True

    @pytest.fixture(scope="class")
    def executor(self) -> Iterator[Executor]:
        with ProcessExecutor(max_workers=2) as ex:
            yield ex
