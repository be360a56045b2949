"""Tracing a pipeline body: step calls become graph nodes and return placeholders."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

from runyard.errors import InvalidArgument
from runyard.pipelines import _typecheck
from runyard.pipelines.graph import (
    ConstInput,
    DictInput,
    Input,
    NodeInput,
    ParamInput,
    PipelineParam,
    SeqInput,
    StepNode,
    UnmappedInput,
)

if TYPE_CHECKING:
    from runyard.pipelines.step import Step

__all__ = ["ParamRef", "StepOutput", "Trace", "current", "tracing"]

_CURRENT: contextvars.ContextVar[Trace | None] = contextvars.ContextVar(
    "runyard_trace", default=None
)


def current() -> Trace | None:
    """The trace in progress in this context, if any."""
    return _CURRENT.get()


@contextmanager
def tracing(trace: Trace) -> Iterator[Trace]:
    """Make ``trace`` the current one for the duration of the block."""
    token = _CURRENT.set(trace)
    try:
        yield trace
    finally:
        _CURRENT.reset(token)


class _Placeholder:
    """Base of the values a pipeline body handles: they only exist when the pipeline runs."""

    _what = "a placeholder"

    def _refuse(self, action: str) -> NoReturn:
        raise InvalidArgument(
            f"{self._what} has no value while the pipeline body is traced, so it cannot be "
            f"{action}; do this inside a step and pass the placeholder to it"
        )

    def __bool__(self) -> bool:
        self._refuse("tested with if/and/or")

    def __iter__(self) -> Iterator[Any]:
        self._refuse("iterated over (use step.map() to fan out)")

    def __len__(self) -> int:
        self._refuse("measured with len()")

    def __getitem__(self, key: Any) -> Any:
        self._refuse("indexed")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self._refuse(f"asked for attribute {name!r}")


class StepOutput(_Placeholder):
    """What a step call returns inside a pipeline body."""

    def __init__(self, node_id: str, annotation: Any) -> None:
        self.node_id = node_id
        self.annotation = annotation
        self._what = f"the output of step {node_id!r}"

    def __repr__(self) -> str:
        return f"<output of {self.node_id}>"


class ParamRef(_Placeholder):
    """A pipeline parameter inside the pipeline body."""

    def __init__(self, param: PipelineParam) -> None:
        self.param = param
        self._what = f"pipeline parameter {param.name!r}"

    def __repr__(self) -> str:
        return f"<param {self.param.name}>"


def to_input(value: Any) -> Input:
    """The graph input for a value written in the pipeline body."""
    from runyard.pipelines.step import Unmapped

    if isinstance(value, StepOutput):
        return NodeInput(value.node_id)
    if isinstance(value, ParamRef):
        return ParamInput(value.param.name)
    if isinstance(value, Unmapped):
        return UnmappedInput(to_input(value.value))
    if isinstance(value, list | tuple):
        items = tuple(to_input(v) for v in value)
        if all(isinstance(i, ConstInput) for i in items):
            return ConstInput(value)
        return SeqInput(items, is_tuple=isinstance(value, tuple))
    if isinstance(value, dict):
        pairs = tuple((k, to_input(v)) for k, v in value.items())
        if all(isinstance(i, ConstInput) for _, i in pairs):
            return ConstInput(value)
        return DictInput(pairs)
    return ConstInput(value)


class Trace:
    """Collects the nodes of one pipeline body as it runs."""

    def __init__(self, pipeline_name: str, params: Mapping[str, PipelineParam]) -> None:
        self.pipeline_name = pipeline_name
        self.params = dict(params)
        self.nodes: list[StepNode] = []
        self._outputs: dict[str, Any] = {}

    def add(
        self, step: Step[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any], *, mapped: bool
    ) -> StepOutput:
        """Record a call of ``step`` and return the placeholder for its output.

        Raises:
            InvalidArgument: a missing or unknown argument, or an argument whose type
                clearly does not fit the step's annotation.
        """
        call = f"{step.name}.map()" if mapped else f"{step.name}()"
        try:
            bound = step.signature.bind(*args, **kwargs)
        except TypeError as e:
            raise InvalidArgument(f"pipeline {self.pipeline_name!r}: {call}: {e}") from e
        inputs = {name: to_input(value) for name, value in bound.arguments.items()}
        hints = _typecheck.hints_of(step.fn)
        for name, value in inputs.items():
            self._check_type(call, name, hints.get(name), value, mapped)
        node_id = self._unique_id(step.name)
        self.nodes.append(StepNode(node_id, step, inputs, mapped))
        returns = hints.get("return")
        annotation: Any = returns
        if mapped:
            annotation = None if returns is None else list.__class_getitem__(returns)
        self._outputs[node_id] = annotation
        return StepOutput(node_id, annotation)

    def _unique_id(self, name: str) -> str:
        taken = {n.node_id for n in self.nodes}
        if name not in taken:
            return name
        k = 2
        while f"{name}-{k}" in taken:
            k += 1
        return f"{name}-{k}"

    def _produced(self, value: Input) -> tuple[Any, str]:
        if isinstance(value, NodeInput):
            return self._outputs.get(value.node_id), f"the output of step {value.node_id!r}"
        if isinstance(value, ParamInput):
            return self.params[value.name].annotation, f"pipeline parameter {value.name!r}"
        if isinstance(value, ConstInput):
            return type(value.value), f"the constant {value.value!r:.60}"
        if isinstance(value, SeqInput):
            return (tuple if value.is_tuple else list), "a literal sequence"
        if isinstance(value, DictInput):
            return dict, "a literal dict"
        return None, "an unmapped value"

    def _check_type(self, call: str, name: str, expected: Any, value: Input, mapped: bool) -> None:
        if expected is None:
            return
        if isinstance(value, ParamInput) and value.name not in self.params:
            raise InvalidArgument(
                f"pipeline {self.pipeline_name!r}: unknown parameter {value.name!r}"
            )
        inner = value.inner if isinstance(value, UnmappedInput) else value
        produced, what = self._produced(inner)
        if _typecheck.compatible(expected, produced):
            return
        if mapped and not isinstance(value, UnmappedInput):
            item = _typecheck.element_type(produced)
            if item is None or _typecheck.compatible(expected, item):
                return
        raise InvalidArgument(
            f"pipeline {self.pipeline_name!r}: {call} input {name!r} expects "
            f"{_typecheck.type_name(expected)}, but gets {what} of type "
            f"{_typecheck.type_name(produced)}"
        )
