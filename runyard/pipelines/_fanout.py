"""How ``.map()`` turns one set of arguments into one set per call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runyard.errors import InvalidArgument

__all__ = ["expand_calls", "mapped_names"]


def mapped_names(arguments: Mapping[str, Any]) -> list[str]:
    """The arguments a ``.map()`` fans out over: lists and tuples not wrapped in unmapped."""
    return [k for k, v in arguments.items() if isinstance(v, list | tuple)]


def expand_calls(step_name: str, arguments: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The keyword arguments of each call of ``step.map(**arguments)``.

    Raises:
        InvalidArgument: no argument is a list or tuple, or the lists differ in length.
    """
    from runyard.pipelines.step import Unmapped

    fanned = mapped_names(arguments)
    if not fanned:
        raise InvalidArgument(
            f"{step_name}.map() needs at least one list or tuple argument to fan out over; "
            f"got {', '.join(f'{k}: {type(v).__name__}' for k, v in arguments.items()) or 'none'}"
        )
    lengths = {k: len(arguments[k]) for k in fanned}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise InvalidArgument(
            f"{step_name}.map() zips its list arguments, which must be equally long: {shown}"
        )
    count = next(iter(lengths.values()))
    whole = {k: (v.value if isinstance(v, Unmapped) else v) for k, v in arguments.items()}
    return [{**whole, **{k: arguments[k][i] for k in fanned}} for i in range(count)]
