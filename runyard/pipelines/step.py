"""``@step``: a typed function that runs as one unit of a pipeline.

Called outside a pipeline body, a step is its plain function. Called inside one (while
:func:`~runyard.pipelines.pipeline.pipeline` traces the body) it records a node and returns
a :class:`StepOutput` placeholder instead of running.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, ParamSpec, TypeVar, overload

from runyard.errors import InvalidArgument
from runyard.executors.base import Resources
from runyard.pipelines import _tracing
from runyard.pipelines._fanout import expand_calls
from runyard.pipelines._units import parse_duration, parse_size

__all__ = ["Step", "StepOptions", "Unmapped", "step", "unmapped"]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Unmapped:
    """A value that ``.map()`` passes whole to every call (see :func:`unmapped`)."""

    value: Any


def unmapped(value: Any) -> Unmapped:
    """Pass a list (or a step output that is a list) whole to every call of a ``.map()``.

    Example:
        >>> import runyard as ry
        >>> @ry.step
        ... def score(x: int, weights: list[int]) -> int:
        ...     return x * sum(weights)
        >>> score.map(x=[1, 2], weights=ry.unmapped([1, 1]))
        [2, 4]
    """
    return Unmapped(value)


@dataclass(frozen=True, slots=True)
class StepOptions:
    """How a step runs and caches.

    Attributes:
        retries: how many times a failed call is tried again (backing off exponentially).
        retry_delay: seconds before the first retry; doubles with each further one.
        timeout: seconds a call may run before it is stopped (None: no limit).
        resources: what one call needs from the executor.
        cache: whether results are cached.
        version: when set, replaces the code fingerprint in the cache key.
        serializer: the serializer to store outputs with (None: chosen by type); naming
            ``"pickle"`` declares the pickle fallback and silences its warning.
    """

    retries: int = 0
    retry_delay: float = 1.0
    timeout: float | None = None
    resources: Resources = field(default_factory=Resources)
    cache: bool = True
    version: str | None = None
    serializer: str | None = None

    def retry_delay_after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): doubling."""
        return self.retry_delay * float(2 ** (attempt - 1))


class Step(Generic[P, R]):
    """A pipeline step wrapping a function (made by :func:`step`)."""

    fn: Callable[P, R]
    name: str
    options: StepOptions

    def __init__(self, fn: Callable[P, R], name: str, options: StepOptions) -> None:
        if isinstance(fn, Step):  # re-decorating a step replaces its options
            inner: Callable[P, R] = fn.fn
            fn = inner
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name
        self.options = options
        self.signature = inspect.signature(fn)
        for p in self.signature.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise InvalidArgument(
                    f"step {name!r}: steps take named parameters only, not *{p.name}"
                )

    def __repr__(self) -> str:
        return f"<step {self.name}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the function; inside a pipeline body, record the call and return a placeholder."""
        trace = _tracing.current()
        if trace is None:
            return self.fn(*args, **kwargs)
        out: Any = trace.add(self, args, kwargs, mapped=False)
        return out  # type: ignore[no-any-return]

    def map(self, *args: Any, **kwargs: Any) -> Any:
        """Call the step once per item of every list or tuple argument.

        Several list arguments are zipped (unequal lengths are an error); other
        arguments, and lists wrapped in :func:`unmapped`, go whole to each call. In a
        pipeline body this returns a placeholder for the list of results; outside one it
        runs the calls here and returns the list.

        Example:
            >>> import runyard as ry
            >>> @ry.step
            ... def scale(x: float, by: float) -> float:
            ...     return x * by
            >>> scale.map(x=[1.0, 2.0], by=10.0)
            [10.0, 20.0]
        """
        trace = _tracing.current()
        if trace is not None:
            return trace.add(self, args, kwargs, mapped=True)
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as e:
            raise InvalidArgument(f"step {self.name!r}: {e}") from e
        fn: Callable[..., R] = self.fn
        return [fn(**call) for call in expand_calls(self.name, bound.arguments)]


@overload
def step(fn: Callable[P, R], /) -> Step[P, R]: ...


@overload
def step(
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delay: str | float = 1.0,
    timeout: str | float | None = None,
    cpus: float = 1.0,
    gpus: float = 0.0,
    memory: str | int | None = None,
    resources: Mapping[str, float] | None = None,
    cache: bool = True,
    version: str | None = None,
    serializer: str | None = None,
) -> Callable[[Callable[P, R]], Step[P, R]]: ...


def step(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delay: str | float = 1.0,
    timeout: str | float | None = None,
    cpus: float = 1.0,
    gpus: float = 0.0,
    memory: str | int | None = None,
    resources: Mapping[str, float] | None = None,
    cache: bool = True,
    version: str | None = None,
    serializer: str | None = None,
) -> Step[P, R] | Callable[[Callable[P, R]], Step[P, R]]:
    """Make a function a pipeline step.

    Args:
        fn: the function (when used as ``@step`` without parentheses).
        name: the step's name (default: the function's name).
        retries: how many times to retry a failed call, backing off exponentially.
        retry_delay: the first retry's delay (``"2s"`` or seconds); doubles each time.
        timeout: stop a call after this long (``"10m"``, ``"30s"`` or seconds).
        cpus: CPU cores one call needs.
        gpus: GPUs one call needs.
        memory: memory one call needs (``"4GB"`` or bytes).
        resources: custom resources one call needs, by name (Ray's ``resources=``, e.g.
            ``{"TPU": 1}``); local executors have none and refuse them.
        cache: False to never cache this step.
        version: an explicit code version; replaces the code fingerprint in the key.
        serializer: force an output serializer by name (``"pickle"`` declares the
            pickle fallback).

    Returns:
        The :class:`Step` (or a decorator that makes one).

    Raises:
        InvalidArgument: a negative retry count or a malformed duration or size.

    Example:
        >>> import runyard as ry
        >>> @ry.step(retries=2, timeout="10m", cpus=1)
        ... def load(n: int) -> list[int]:
        ...     return list(range(n))
        >>> load(3)
        [0, 1, 2]
    """
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InvalidArgument(f"retries must be a non-negative integer, got {retries!r}")
    options = StepOptions(
        retries=retries,
        retry_delay=parse_duration(retry_delay, "retry_delay") or 1.0,
        timeout=parse_duration(timeout, "timeout"),
        resources=Resources(
            cpus=cpus,
            gpus=gpus,
            memory=parse_size(memory),
            custom=MappingProxyType(dict(resources or {})),
        ),
        cache=cache,
        version=version,
        serializer=serializer,
    )

    def wrap(f: Callable[P, R]) -> Step[P, R]:
        return Step(f, name or f.__name__, options)

    return wrap(fn) if fn is not None else wrap
