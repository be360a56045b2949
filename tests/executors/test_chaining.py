"""Executors that cannot chain tasks say so, and refuse ``submit_after`` plainly."""

from concurrent.futures import Future

import pytest

from runyard.errors import InvalidArgument
from runyard.executors import InlineExecutor, ProcessExecutor


@pytest.mark.parametrize("make", [InlineExecutor, lambda: ProcessExecutor(max_workers=1)])
def test_an_executor_that_does_not_chain_refuses_submit_after(make: object) -> None:
    with make() as ex:  # type: ignore[operator]
        assert ex.chains_tasks is False
        done: Future[int] = ex.submit(int, "1")
        with pytest.raises(InvalidArgument, match="does not chain tasks"):
            ex.submit_after(sum, [done])
