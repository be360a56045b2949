"""Turning a node's graph inputs into argument values and content hashes at run time."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runyard.errors import InvalidArgument
from runyard.pipelines._fanout import expand_calls
from runyard.pipelines.fingerprint import Unhashable, fingerprint
from runyard.pipelines.graph import (
    ConstInput,
    Input,
    NodeInput,
    ParamInput,
    SeqInput,
    StepNode,
    UnmappedInput,
)

__all__ = ["ArgHash", "Call", "NodeOutput", "Resolved", "calls_for", "combine", "resolve"]


@dataclass(slots=True)
class NodeOutput:
    """A settled node's value and content hash (``items`` per call for a ``.map()``)."""

    value: Any
    digest: str | None
    reason: str | None = None
    items: list[NodeOutput] | None = None


@dataclass(frozen=True, slots=True)
class ArgHash:
    """The content hash of one argument of one call (None with a reason when unhashable)."""

    digest: str | None
    reason: str | None
    from_steps: bool
    shown: str


@dataclass(frozen=True, slots=True)
class Call:
    """One call of a step: its node, map index, arguments and their hashes."""

    node: StepNode
    index: int | None
    kwargs: dict[str, Any]
    hashes: dict[str, ArgHash]

    @property
    def label(self) -> str:
        """``node`` or ``node[i]``."""
        return self.node.node_id if self.index is None else f"{self.node.node_id}[{self.index}]"


@dataclass(slots=True)
class Resolved:
    """An argument's value with what is known about its hash."""

    value: Any
    digest: str | None
    reason: str | None
    from_steps: bool
    items: list[Resolved] | None = None
    unmapped: bool = False

    def item(self, i: int) -> Resolved:
        """The resolved ``i``-th item of a list value."""
        if self.items is not None:
            return self.items[i]
        return _hashed(self.value[i], self.from_steps)


def combine(kind: str, digests: list[str]) -> str:
    """One digest for a sequence of digests."""
    return hashlib.sha256(f"{kind}:{','.join(digests)}".encode()).hexdigest()


def _hashed(value: Any, from_steps: bool) -> Resolved:
    try:
        return Resolved(value, fingerprint(value), None, from_steps)
    except Unhashable as e:
        return Resolved(value, None, e.reason, from_steps)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _merge(parts: list[Resolved], kind: str) -> tuple[str | None, str | None]:
    missing = next((p for p in parts if p.digest is None), None)
    if missing is not None:
        return None, missing.reason
    return combine(kind, [p.digest or "" for p in parts]), None


def resolve(inp: Input, params: Mapping[str, Any], outputs: Mapping[str, NodeOutput]) -> Resolved:
    """The value of ``inp`` now that its upstream nodes have settled."""
    if isinstance(inp, ParamInput):
        return _hashed(params[inp.name], False)
    if isinstance(inp, ConstInput):
        return _hashed(inp.value, False)
    if isinstance(inp, NodeInput):
        out = outputs[inp.node_id]
        items = None
        if out.items is not None:
            items = [Resolved(o.value, o.digest, o.reason, True) for o in out.items]
        return Resolved(out.value, out.digest, out.reason, True, items)
    if isinstance(inp, UnmappedInput):
        inner = resolve(inp.inner, params, outputs)
        inner.unmapped = True
        return inner
    if isinstance(inp, SeqInput):
        parts = [resolve(i, params, outputs) for i in inp.items]
        kind = "tuple" if inp.is_tuple else "list"
        digest, reason = _merge(parts, kind)
        values = [p.value for p in parts]
        value = tuple(values) if inp.is_tuple else values
        return Resolved(value, digest, reason, any(p.from_steps for p in parts), parts)
    pairs = [(k, resolve(v, params, outputs)) for k, v in inp.items]
    keyed = [
        Resolved(
            None,
            combine("kv", [fingerprint(k), p.digest]) if p.digest else None,
            p.reason,
            p.from_steps,
        )
        for k, p in pairs
    ]
    digest, reason = _merge(keyed, "dict")
    return Resolved(
        {k: p.value for k, p in pairs}, digest, reason, any(p.from_steps for _, p in pairs)
    )


def _arg_hash(r: Resolved) -> ArgHash:
    return ArgHash(r.digest, r.reason, r.from_steps, _shown(r.value))


def calls_for(
    node: StepNode, params: Mapping[str, Any], outputs: Mapping[str, NodeOutput]
) -> list[Call]:
    """Every call of ``node``: one, or one per item for a ``.map()``.

    Raises:
        InvalidArgument: a ``.map()`` with nothing to fan out over or unequal lists.
    """
    from runyard.pipelines.step import Unmapped

    resolved = {name: resolve(inp, params, outputs) for name, inp in node.inputs.items()}
    if not node.mapped:
        return [
            Call(
                node,
                None,
                {k: r.value for k, r in resolved.items()},
                {k: _arg_hash(r) for k, r in resolved.items()},
            )
        ]
    marked = {k: (Unmapped(r.value) if r.unmapped else r.value) for k, r in resolved.items()}
    kwargs_list = expand_calls(node.node_id, marked)
    fanned = [
        k for k, r in resolved.items() if not r.unmapped and isinstance(r.value, list | tuple)
    ]
    calls = []
    for i, kwargs in enumerate(kwargs_list):
        hashes = {}
        for k, r in resolved.items():
            hashes[k] = _arg_hash(r.item(i)) if k in fanned else _arg_hash(r)
        calls.append(Call(node, i, kwargs, hashes))
    return calls


def check_known_lengths(node: StepNode, params: Mapping[str, Any]) -> None:
    """Before anything runs: the lists a ``.map()`` fans out over, where already known, agree.

    Raises:
        InvalidArgument: two known list arguments differ in length, or a map whose every
            argument is known has nothing to fan out over.
    """
    from runyard.pipelines.step import Unmapped

    known: dict[str, Any] = {}
    for name, inp in node.inputs.items():
        if any(isinstance(i, NodeInput) for i in _walk(inp)):
            continue
        value = resolve(inp, params, {}).value
        known[name] = Unmapped(value) if isinstance(inp, UnmappedInput) else value
    lengths = {k: len(v) for k, v in known.items() if isinstance(v, list | tuple)}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise InvalidArgument(
            f"{node.node_id}.map() zips its list arguments, which must be equally long: {shown}"
        )
    if len(known) == len(node.inputs):
        expand_calls(node.node_id, known)


def _walk(inp: Input) -> list[Input]:
    from runyard.pipelines.graph import walk

    return list(walk(inp))
