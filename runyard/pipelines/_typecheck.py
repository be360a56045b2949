"""Lenient type checks between what a step produces and what another expects.

Only clear contradictions are errors (a ``DataFrame`` where a ``float`` is expected);
anything unknown, generic or dynamic passes, so a check never blocks a working pipeline.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any

__all__ = ["compatible", "element_type", "hints_of", "type_name", "value_matches"]

_SEQUENCES = (list, tuple)


def hints_of(fn: Callable[..., Any]) -> dict[str, Any]:
    """The resolved annotations of ``fn`` (empty when they cannot be resolved)."""
    try:
        return typing.get_type_hints(fn)
    except Exception:  # forward references to names imported only for type checking
        return {}


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _plain(tp: Any) -> type | None:
    origin = typing.get_origin(tp) or tp
    if origin in (typing.Any, object) or not isinstance(origin, type):
        return None
    return origin


def compatible(expected: Any, produced: Any) -> bool:
    """False only when a value of type ``produced`` can never be an ``expected``."""
    if expected is None or produced is None:
        return True
    if _is_union(expected):
        return any(compatible(e, produced) for e in typing.get_args(expected))
    if _is_union(produced):
        return any(compatible(expected, p) for p in typing.get_args(produced))
    want, have = _plain(expected), _plain(produced)
    if want is None or have is None:
        return True
    if want is float and have is int:
        return True
    if want is complex and have in (int, float):
        return True
    try:
        return issubclass(have, want) or issubclass(want, have)
    except TypeError:
        return True


def element_type(tp: Any) -> Any:
    """The item type of ``list[X]`` / ``tuple[X, ...]`` (None when unknown)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in _SEQUENCES and args:
        return args[0]
    return None


def value_matches(expected: Any, value: Any) -> bool:
    """False only when ``value`` clearly is not an ``expected``."""
    if value is None:
        return True
    return compatible(expected, type(value))


def type_name(tp: Any) -> str:
    """A short readable name for a type."""
    if tp is None:
        return "unknown"
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return str(tp).replace("typing.", "")
