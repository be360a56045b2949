"""The pipeline graph: steps, the inputs that feed them, and checks before anything runs.

A :class:`Graph` is what tracing a ``@pipeline`` body produces. It is a plain value: the
runner executes it and the UI draws it (:meth:`Graph.to_dict`). Inputs are small trees —
a pipeline parameter, another node's output, a constant, or a list / tuple / dict of those —
so ``best([a, b])`` depends on both ``a`` and ``b``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runyard.errors import InvalidArgument

if TYPE_CHECKING:
    from runyard.pipelines.step import Step

__all__ = [
    "ConstInput",
    "DictInput",
    "Graph",
    "Input",
    "NodeInput",
    "ParamInput",
    "PipelineParam",
    "SeqInput",
    "StepNode",
    "UnmappedInput",
]


@dataclass(frozen=True, slots=True)
class ParamInput:
    """The value of a pipeline parameter."""

    name: str


@dataclass(frozen=True, slots=True)
class NodeInput:
    """The output of another node (a list of outputs when that node is a ``.map()``)."""

    node_id: str


@dataclass(frozen=True, slots=True, eq=False)
class ConstInput:
    """A constant written in the pipeline body."""

    value: Any


@dataclass(frozen=True, slots=True)
class SeqInput:
    """A list or tuple written in the pipeline body, whose items are inputs."""

    items: tuple[Input, ...]
    is_tuple: bool = False


@dataclass(frozen=True, slots=True)
class DictInput:
    """A dict written in the pipeline body, whose values are inputs."""

    items: tuple[tuple[Any, Input], ...]


@dataclass(frozen=True, slots=True)
class UnmappedInput:
    """``ry.unmapped(x)``: passed whole to every call of a ``.map()``."""

    inner: Input


Input = ParamInput | NodeInput | ConstInput | SeqInput | DictInput | UnmappedInput


def walk(value: Input) -> Iterator[Input]:
    """Every input in the tree rooted at ``value``, depth first."""
    yield value
    if isinstance(value, SeqInput):
        for item in value.items:
            yield from walk(item)
    elif isinstance(value, DictInput):
        for _, item in value.items:
            yield from walk(item)
    elif isinstance(value, UnmappedInput):
        yield from walk(value.inner)


def describe(value: Input) -> Any:
    """A JSON-able description of an input, for the UI and error messages."""
    if isinstance(value, ParamInput):
        return {"param": value.name}
    if isinstance(value, NodeInput):
        return {"node": value.node_id}
    if isinstance(value, ConstInput):
        text = repr(value.value)
        return {"const": text if len(text) <= 80 else text[:77] + "..."}
    if isinstance(value, SeqInput):
        return {"tuple" if value.is_tuple else "list": [describe(i) for i in value.items]}
    if isinstance(value, DictInput):
        return {"dict": {str(k): describe(v) for k, v in value.items}}
    return {"unmapped": describe(value.inner)}


@dataclass(frozen=True, slots=True)
class PipelineParam:
    """A parameter of a pipeline function.

    Attributes:
        name: the parameter name.
        annotation: its type annotation (None when absent).
        default: its default value (meaningful only when ``has_default``).
        has_default: whether the pipeline gives it a default.
    """

    name: str
    annotation: Any
    default: Any
    has_default: bool


@dataclass(frozen=True, slots=True)
class StepNode:
    """One call of a step in the pipeline body.

    Attributes:
        node_id: unique in the graph: the step's name, ``name-2`` for its second call...
        step: the step called.
        inputs: the step's arguments by parameter name.
        mapped: True for ``step.map(...)``: one call per item of the list arguments.
    """

    node_id: str
    step: Step[Any, Any]
    inputs: Mapping[str, Input]
    mapped: bool = False

    def upstream(self) -> list[str]:
        """Ids of the nodes whose outputs this node reads, in argument order, once each."""
        seen: dict[str, None] = {}
        for value in self.inputs.values():
            for item in walk(value):
                if isinstance(item, NodeInput):
                    seen.setdefault(item.node_id)
        return list(seen)


@dataclass(frozen=True, slots=True)
class Graph:
    """A traced pipeline: its parameters, its nodes in call order, and its output.

    Attributes:
        name: the pipeline's name.
        params: the pipeline function's parameters.
        nodes: the step calls, in the order the body made them.
        output: what the pipeline returns.
    """

    name: str
    params: tuple[PipelineParam, ...]
    nodes: tuple[StepNode, ...]
    output: Input
    # What is worked out from the graph once, on first use (a Graph does not change):
    # "upstream", "order" and "json". Every run of a pipeline reads them.
    _derived: dict[str, Any] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def upstream_of(self) -> Mapping[str, tuple[str, ...]]:
        """Each node's :meth:`StepNode.upstream`, by node id (worked out once)."""
        found: dict[str, tuple[str, ...]] | None = self._derived.get("upstream")
        if found is None:
            found = {n.node_id: tuple(n.upstream()) for n in self.nodes}
            self._derived["upstream"] = found
        return found

    def node(self, node_id: str) -> StepNode:
        """The node with that id. Raises InvalidArgument naming the known ones."""
        for n in self.nodes:
            if n.node_id == node_id:
                return n
        known = ", ".join(n.node_id for n in self.nodes) or "none"
        raise InvalidArgument(f"pipeline {self.name!r} has no step {node_id!r} (steps: {known})")

    def validate(self) -> None:
        """Check that every input exists and that the graph has no cycle.

        Raises:
            InvalidArgument: an unknown parameter or node, a duplicate node id, or a cycle.
        """
        ids = [n.node_id for n in self.nodes]
        if len(set(ids)) != len(ids):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise InvalidArgument(f"pipeline {self.name!r}: duplicate step ids {dupes}")
        params = {p.name for p in self.params}
        known = set(ids)
        sources: list[tuple[str, Input]] = [
            (n.node_id, v) for n in self.nodes for v in n.inputs.values()
        ]
        sources.append(("the pipeline's return value", self.output))
        for where, value in sources:
            for item in walk(value):
                if isinstance(item, ParamInput) and item.name not in params:
                    raise InvalidArgument(
                        f"pipeline {self.name!r}: {where} reads unknown parameter {item.name!r}"
                    )
                if isinstance(item, NodeInput) and item.node_id not in known:
                    raise InvalidArgument(
                        f"pipeline {self.name!r}: {where} reads unknown step {item.node_id!r}"
                    )
        self.topological_order()

    def topological_order(self) -> list[StepNode]:
        """The nodes so that each comes after every node it reads from.

        Raises:
            InvalidArgument: the graph has a cycle (named in the message).
        """
        known: tuple[StepNode, ...] | None = self._derived.get("order")
        if known is None:
            known = tuple(self._order())
            self._derived["order"] = known
        return list(known)

    def _order(self) -> list[StepNode]:
        upstream = self.upstream_of()
        by_id = {n.node_id: n for n in self.nodes}
        state: dict[str, int] = {}  # 1 visiting, 2 done
        order: list[StepNode] = []

        def visit(node_id: str, path: list[str]) -> None:
            mark = state.get(node_id)
            if mark == 2:
                return
            if mark == 1:
                cycle = " -> ".join([*path[path.index(node_id) :], node_id])
                raise InvalidArgument(f"pipeline {self.name!r} has a cycle: {cycle}")
            state[node_id] = 1
            node = by_id[node_id]
            for up in upstream[node_id]:
                if up in by_id:
                    visit(up, [*path, node_id])
            state[node_id] = 2
            order.append(node)

        for n in self.nodes:
            visit(n.node_id, [])
        return order

    def downstream(self, node_id: str) -> set[str]:
        """Every node that reads, directly or not, the output of ``node_id``."""
        readers: dict[str, list[str]] = {}
        upstream = self.upstream_of()
        for n in self.nodes:
            for up in upstream[n.node_id]:
                readers.setdefault(up, []).append(n.node_id)
        found: set[str] = set()
        todo = [node_id]
        while todo:
            for r in readers.get(todo.pop(), []):
                if r not in found:
                    found.add(r)
                    todo.append(r)
        return found

    def to_json(self) -> bytes:
        """:meth:`to_dict` as JSON (UTF-8), as stored with every run (worked out once)."""
        data: bytes | None = self._derived.get("json")
        if data is None:
            data = json.dumps(self.to_dict()).encode()
            self._derived["json"] = data
        return data

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description for the UI: params, nodes, edges and the output."""
        upstream = self.upstream_of()
        return {
            "name": self.name,
            "params": [
                {
                    "name": p.name,
                    "type": _type_name(p.annotation),
                    "default": _json_or_repr(p.default) if p.has_default else None,
                    "required": not p.has_default,
                }
                for p in self.params
            ],
            "nodes": [
                {
                    "id": n.node_id,
                    "step": n.step.name,
                    "mapped": n.mapped,
                    "inputs": {k: describe(v) for k, v in n.inputs.items()},
                    "upstream": list(upstream[n.node_id]),
                }
                for n in self.nodes
            ],
            "edges": [[up, n.node_id] for n in self.nodes for up in upstream[n.node_id]],
            "output": describe(self.output),
        }


def _type_name(annotation: Any) -> str | None:
    if annotation is None:
        return None
    return getattr(annotation, "__name__", None) or str(annotation)


def _json_or_repr(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value
