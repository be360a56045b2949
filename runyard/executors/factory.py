"""``get_executor``: an executor from a name, an instance, or nothing."""

from __future__ import annotations

import importlib

from runyard.errors import InvalidArgument, MissingDependency
from runyard.executors.base import Executor

__all__ = ["EXECUTOR_NAMES", "get_executor"]

EXECUTOR_NAMES = ("inline", "process", "ray")


def get_executor(spec: str | Executor | None = None) -> Executor:
    """Return the executor that ``spec`` names.

    Args:
        spec: an :class:`Executor` (returned as is), ``"inline"`` or None (run in this
            thread), ``"process"`` (a warm local process pool; ``"process:4"`` sets the
            number of workers), or ``"ray"`` (``"ray:ADDRESS"`` for a cluster).

    Returns:
        The executor. A new one is owned by the caller, who shuts it down.

    Raises:
        InvalidArgument: an unknown name or a malformed worker count.
        MissingDependency: ``"ray"`` without the ``runyard[ray]`` extra.

    Example:
        >>> from runyard.executors import get_executor
        >>> get_executor("inline").name
        'inline'
    """
    if isinstance(spec, Executor):
        return spec
    if spec is None:
        spec = "inline"
    if not isinstance(spec, str):
        raise InvalidArgument(f"an executor is a name or an Executor, got {type(spec).__name__}")
    kind, _, arg = spec.strip().partition(":")
    kind = kind.lower()
    if kind == "inline" and not arg:
        from runyard.executors.inline import InlineExecutor

        return InlineExecutor()
    if kind == "process":
        from runyard.executors.process import ProcessExecutor

        if not arg:
            return ProcessExecutor()
        try:
            workers = int(arg)
        except ValueError as e:
            raise InvalidArgument(f"'process:N' needs a worker count, got {spec!r}") from e
        return ProcessExecutor(max_workers=workers)
    if kind == "ray":
        return _ray_executor(arg or None)
    raise InvalidArgument(
        f"unknown executor {spec!r}; choose one of {', '.join(EXECUTOR_NAMES)} "
        "or pass an Executor instance"
    )


def _ray_executor(address: str | None) -> Executor:
    try:
        importlib.import_module("ray")
    except ImportError as e:
        raise MissingDependency("ray", "ray") from e
    try:
        module = importlib.import_module("runyard.executors.ray")
    except ModuleNotFoundError as e:
        if e.name != "runyard.executors.ray":
            raise MissingDependency(e.name or "ray", "ray") from e
        raise InvalidArgument(
            "the ray executor is not part of this runyard build; use 'inline' or 'process'"
        ) from e
    cls = module.RayExecutor
    executor: Executor = cls(address=address) if address else cls()
    return executor
