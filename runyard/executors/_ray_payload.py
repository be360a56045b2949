"""A Ray task's function and arguments, pickled once by the driver as one ``bytes`` argument.

Ray serializes each argument of a task on its own, through its serialization context (a
msgpack envelope, pickle protocol 5, a scan for nested references), and the worker undoes
that per argument. For the small tasks a pipeline submits one by one that costs more than
the task: a chain of no-op steps ran a third slower with ``(fn, args, kwargs)`` handed to
Ray as objects than as one ``bytes`` payload, which Ray passes through untouched.

:func:`pack` pickles ``(fn, args, kwargs)`` with cloudpickle, or gives up (returns None)
when Ray must see the arguments itself: they hold a Ray object (an ``ObjectRef`` must go
through Ray to be borrowed safely), cannot be pickled here (Ray then reports it as
usual), or are large (Ray hands large buffers over without copies).

The task's return value travels the same way: a packed task returns ``(True, bytes)`` when
its value could be packed, else ``(False, value)``, and :func:`unpack_result` undoes either.
A task that waits for others (:func:`run_packed_after`) is told which of their results are
packed.

This module never imports Ray: the driver and the workers both use the cloudpickle package.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

__all__ = [
    "LARGEST_PAYLOAD",
    "Packed",
    "pack",
    "run_packed",
    "run_packed_after",
    "unpack_result",
]

Packed = tuple[bool, Any]
"""What a packed task returns: ``(True, pickled value)`` or ``(False, value)``."""

LARGEST_PAYLOAD = 64 * 1024
"""Payloads larger than this (bytes) go to Ray as objects instead."""


class _HoldsRayObject(Exception):
    """The arguments hold a Ray object: they must go through Ray's own serialization."""


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


def _dumps(obj: Any) -> bytes | None:
    buffer = io.BytesIO()
    try:
        _pickler()(buffer, protocol=5).dump(obj)
    except Exception:  # a Ray object, or something Ray may know how to send: let Ray try
        return None
    data = buffer.getvalue()
    return data if len(data) <= LARGEST_PAYLOAD else None


def pack(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes | None:
    """``(fn, args, kwargs)`` pickled, or None when they should go to Ray as objects."""
    return _dumps((fn, args, kwargs))


def _pack_result(value: Any) -> Packed:
    data = _dumps(value)
    return (False, value) if data is None else (True, data)


def unpack_result(result: Packed) -> Any:
    """The value a packed task returned."""
    import cloudpickle

    packed, value = result
    return cloudpickle.loads(value) if packed else value


def _unpack(payload: bytes) -> tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]:
    import cloudpickle

    fn, args, kwargs = cloudpickle.loads(payload)
    return fn, args, kwargs


def run_packed(payload: bytes) -> Packed:
    """Run a packed call (in the Ray worker)."""
    fn, args, kwargs = _unpack(payload)
    return _pack_result(fn(*args, **kwargs))


def run_packed_after(payload: bytes, packed: tuple[bool, ...], *results: Any) -> Packed:
    """Run a packed call with the results of the references Ray resolved into ``results``.

    ``packed`` says which results come from packed tasks.
    """
    fn, args, kwargs = _unpack(payload)
    values = [unpack_result(r) if p else r for p, r in zip(packed, results, strict=True)]
    return _pack_result(fn(values, *args, **kwargs))
