"""A Ray task's function and arguments, pickled once by the driver as one ``bytes`` argument.

Ray serializes each argument of a task on its own, through its serialization context (a
msgpack envelope, pickle protocol 5, a scan for nested references), and the worker undoes
that per argument. For the small tasks a pipeline submits one by one that costs more than
the task: a chain of no-op steps ran a third slower with ``(fn, args, kwargs)`` handed to
Ray as objects than as one ``bytes`` payload, which Ray passes through untouched.

:func:`pack` pickles ``(fn, args, kwargs)`` with the standard pickler when it pickles them
as cloudpickle would (:class:`_Plain`, five times cheaper), else with cloudpickle, or gives
up (returns None) when Ray must see the arguments itself: they hold a Ray object (an
``ObjectRef`` must go through Ray to be borrowed safely), cannot be pickled here (Ray then
reports it as usual), or are large (Ray hands large buffers over without copies).

The task's return value travels the same way: a packed task returns the ``bytes`` of its value
pickled when it could be packed, else the value wrapped in :class:`Unpacked`, and
:func:`unpack_result` undoes either. A task that waits for others is told, inside its
payload, which of their results are packed; each result is one Ray argument.

This module never imports Ray: the driver and the workers both use the cloudpickle package.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from types import FunctionType
from typing import Any

__all__ = [
    "LARGEST_PAYLOAD",
    "Unpacked",
    "pack",
    "run_packed",
    "unpack_result",
]

LARGEST_PAYLOAD = 64 * 1024
"""Payloads larger than this (bytes) go to Ray as objects instead."""


class _HoldsRayObject(Exception):
    """The arguments hold a Ray object: they must go through Ray's own serialization."""


class _ByValue(Exception):
    """The object holds something only cloudpickle pickles right (by value)."""


class _Plain(pickle.Pickler):
    """The standard pickler, for what it pickles exactly as cloudpickle would.

    Both pickle importable functions and classes by reference; only cloudpickle pickles
    those of ``__main__`` (which a worker lacks), of modules registered to be pickled by
    value, lambdas and local ones by value. The first two are refused here; the standard
    pickler fails on the others by itself. Five times cheaper than cloudpickle's pickler,
    whose hooks run in Python for each object.
    """

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, type | FunctionType):
            module = getattr(obj, "__module__", None)
        else:
            module = type(obj).__module__
        if not isinstance(module, str) or module == "__main__":
            raise _ByValue
        if module == "ray" or module.startswith("ray."):
            raise _HoldsRayObject(type(obj).__name__)
        return NotImplemented


_PICKLER: list[type] = []


def _pickler() -> type:
    if not _PICKLER:
        import cloudpickle  # type: ignore[import-untyped]

        class Packer(cloudpickle.Pickler):  # type: ignore[misc]
            def reducer_override(self, obj: Any) -> Any:
                module = type(obj).__module__
                if module == "ray" or module.startswith("ray."):
                    raise _HoldsRayObject(type(obj).__name__)
                return super().reducer_override(obj)

        _PICKLER.append(Packer)
    return _PICKLER[0]


def _plain_allowed() -> bool:
    # No module is registered to be pickled by value (cloudpickle.register_pickle_by_value).
    import cloudpickle

    registered = getattr(cloudpickle.cloudpickle, "_PICKLE_BY_VALUE_MODULES", None)
    return isinstance(registered, set | frozenset) and not registered


def _pickled(obj: Any) -> bytes:
    """``obj`` pickled: by the standard pickler where it is exact, else by cloudpickle."""
    if _plain_allowed():
        buffer = io.BytesIO()
        try:
            _Plain(buffer, protocol=5).dump(obj)
            return buffer.getvalue()
        except _HoldsRayObject:
            raise
        except Exception:  # noqa: BLE001, S110 - by value, or not picklable: cloudpickle decides
            pass
    buffer = io.BytesIO()
    _pickler()(buffer, protocol=5).dump(obj)
    return buffer.getvalue()


def _dumps(obj: Any) -> bytes | None:
    try:
        data = _pickled(obj)
    except Exception:  # a Ray object, or something Ray may know how to send: let Ray try
        return None
    return data if len(data) <= LARGEST_PAYLOAD else None


class Unpacked:
    """A task's value that could not be packed: Ray serializes it (see the module)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __reduce__(self) -> tuple[Any, ...]:
        return Unpacked, (self.value,)


def pack(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    after: tuple[bool, ...] | None = None,
) -> bytes | None:
    """``(fn, args, kwargs)`` pickled, or None when they should go to Ray as objects.

    ``after``: the call waits for the results of other tasks, handed to
    :func:`run_packed` as its further arguments; each flag says whether that task's result
    is packed. ``fn`` is then called with the list of their values first.
    """
    return _dumps((fn, args, kwargs, after))


def _pack_result(value: Any) -> bytes | Unpacked:
    data = _dumps(value)
    return Unpacked(value) if data is None else data


def unpack_result(result: bytes | Unpacked) -> Any:
    """The value a packed task returned."""
    import cloudpickle

    if isinstance(result, Unpacked):
        return result.value
    return cloudpickle.loads(result)


def run_packed(payload: bytes, *results: Any) -> bytes | Unpacked:
    """Run a packed call (in the Ray worker), with the results Ray resolved for ``after``."""
    import cloudpickle

    fn, args, kwargs, after = cloudpickle.loads(payload)
    if after is None:
        return _pack_result(fn(*args, **kwargs))
    values = [unpack_result(r) if p else r for p, r in zip(after, results, strict=True)]
    return _pack_result(fn(values, *args, **kwargs))
