"""Choosing an executor by name, as `digits.run(executor=...)` and the CLI do."""

import importlib.util

import pytest

from runyard.errors import InvalidArgument, MissingDependency
from runyard.executors import InlineExecutor, ProcessExecutor, get_executor


def test_none_and_inline_give_the_inline_executor() -> None:
    assert isinstance(get_executor(None), InlineExecutor)
    assert isinstance(get_executor("inline"), InlineExecutor)


def test_an_instance_is_returned_as_is() -> None:
    ex = InlineExecutor()
    assert get_executor(ex) is ex


def test_process_with_a_worker_count() -> None:
    ex = get_executor("process:3")
    try:
        assert isinstance(ex, ProcessExecutor)
        assert ex.parallelism == 3
    finally:
        ex.shutdown()


def test_bad_worker_count_names_the_form() -> None:
    with pytest.raises(InvalidArgument, match="process:N"):
        get_executor("process:many")


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(InvalidArgument, match="inline, process, ray"):
        get_executor("dask")


def test_ray_without_its_backend_is_a_clear_error() -> None:
    if importlib.util.find_spec("runyard.executors.ray") is not None:
        pytest.skip("the ray executor is installed here")
    with pytest.raises((MissingDependency, InvalidArgument), match="ray"):
        get_executor("ray")
