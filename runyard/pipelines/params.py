"""Checking the parameters a pipeline run is given, and reading them from strings (CLI)."""

from __future__ import annotations

import json
import typing
from collections.abc import Mapping
from typing import Any

from runyard.errors import InvalidArgument
from runyard.pipelines import _typecheck
from runyard.pipelines.graph import Graph

__all__ = ["bind_params", "parse_param_strings"]


def bind_params(graph: Graph, given: Mapping[str, Any]) -> dict[str, Any]:
    """The full parameter values of a run: ``given`` over the defaults, checked.

    Raises:
        InvalidArgument: an unknown or missing parameter, or a value whose type clearly
            does not match the annotation.
    """
    names = [p.name for p in graph.params]
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise InvalidArgument(
            f"pipeline {graph.name!r} has no parameter {', '.join(map(repr, unknown))}; "
            f"it takes: {', '.join(names) or 'no parameters'}"
        )
    values: dict[str, Any] = {}
    for p in graph.params:
        if p.name in given:
            value = given[p.name]
        elif p.has_default:
            value = p.default
        else:
            raise InvalidArgument(f"pipeline {graph.name!r} needs parameter {p.name!r}")
        if not _typecheck.value_matches(p.annotation, value):
            raise InvalidArgument(
                f"pipeline {graph.name!r}: parameter {p.name!r} expects "
                f"{_typecheck.type_name(p.annotation)}, got {type(value).__name__} {value!r:.60}"
            )
        values[p.name] = value
    return values


def parse_param_strings(graph: Graph, pairs: list[str]) -> dict[str, Any]:
    """Parse ``["n=500", "lrs=[0.1, 0.2]"]`` using the pipeline's annotations.

    ``str`` parameters take the text as is; ``int``, ``float`` and ``bool`` parse it;
    anything else (lists, dicts) is read as JSON, falling back to the text.

    Raises:
        InvalidArgument: a pair without ``=``, an unknown parameter, or text that does
            not parse as the annotated type.
    """
    by_name = {p.name: p for p in graph.params}
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InvalidArgument(f"a parameter is NAME=VALUE, got {pair!r}")
        if name not in by_name:
            raise InvalidArgument(
                f"pipeline {graph.name!r} has no parameter {name!r}; "
                f"it takes: {', '.join(by_name) or 'no parameters'}"
            )
        out[name] = _parse(name, by_name[name].annotation, text)
    return out


def _parse(name: str, annotation: Any, text: str) -> Any:
    target = typing.get_origin(annotation) or annotation
    try:
        if target is str:
            return text
        if target is bool:
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if target is int:
            return int(text)
        if target is float:
            return float(text)
    except ValueError as e:
        raise InvalidArgument(
            f"parameter {name!r} expects {_typecheck.type_name(annotation)}, got {text!r}"
        ) from e
    try:
        return json.loads(text)
    except ValueError:
        return text
