"""Cache keys: composed from their parts, and compared part by part. Pure functions.

A step call's key is the hash of its :class:`KeyComponents` — the code fingerprint (or the
step's explicit ``version``), the content hashes of the inputs that come from other steps,
the fingerprints of parameter values, and the versions of the packages the code uses.
:func:`diff_components` names what changed between two calls, which is how
``runyard why`` explains a cache miss.

Example:
    >>> from runyard.pipelines.cache_key import KeyComponents, cache_key, diff_components
    >>> a = KeyComponents(step="train", code="c1", params={"lr": "f1"}, shown={"lr": "0.1"})
    >>> b = KeyComponents(step="train", code="c1", params={"lr": "f2"}, shown={"lr": "0.2"})
    >>> cache_key(a) == cache_key(b)
    False
    >>> [c.describe() for c in diff_components(a, b)]
    ["param 'lr' changed: 0.1 -> 0.2"]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from runyard.errors import InvalidArgument

__all__ = [
    "KEY_SCHEMA",
    "KeyChange",
    "KeyComponents",
    "cache_key",
    "diff_components",
    "key_of_parts",
]

KEY_SCHEMA = 1
"""Bumped when the key composition changes, so old entries stop matching."""


def _frozen(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(sorted((value or {}).items())))


@dataclass(frozen=True, slots=True)
class KeyComponents:
    """The parts of a step call's cache key.

    Attributes:
        step: the step's name.
        code: the code fingerprint, or ``version:<v>`` when the step declares a version.
        inputs: argument → content hash, for arguments that come from other steps.
        params: argument → fingerprint, for parameter and constant arguments.
        packages: distribution → version, for the packages the step's code uses.
        serializer: how the output is stored (a change of format is a change of key).
        shown: argument → short readable value (not part of the key; for explanations).
    """

    step: str
    code: str
    inputs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    packages: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    serializer: str = "auto"
    shown: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        for name in ("inputs", "params", "packages", "shown"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    def to_json(self) -> str:
        """The components as JSON (for recording on the step's run)."""
        return json.dumps(
            {
                "schema": KEY_SCHEMA,
                "step": self.step,
                "code": self.code,
                "inputs": dict(self.inputs),
                "params": dict(self.params),
                "packages": dict(self.packages),
                "serializer": self.serializer,
                "shown": dict(self.shown),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> KeyComponents:
        """Read components written by :meth:`to_json`.

        Raises:
            InvalidArgument: the text is not such a record.
        """
        try:
            data: dict[str, Any] = json.loads(text)
            return cls(
                step=data["step"],
                code=data["code"],
                inputs=data.get("inputs", {}),
                params=data.get("params", {}),
                packages=data.get("packages", {}),
                serializer=data.get("serializer", "auto"),
                shown=data.get("shown", {}),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise InvalidArgument(f"not a cache key record: {text[:80]!r}") from e


def cache_key(components: KeyComponents) -> str:
    """The cache key (64 hex characters) of ``components``; ``shown`` does not count."""
    return key_of_parts(
        components.step,
        components.code,
        components.inputs,
        components.params,
        components.packages,
        components.serializer,
    )


_COMPACT = json.JSONEncoder(separators=(",", ":")).encode


def key_of_parts(
    step: str,
    code: str,
    inputs: Mapping[str, str],
    params: Mapping[str, str],
    packages: Mapping[str, str],
    serializer: str,
) -> str:
    """:func:`cache_key` of the components with these parts, without building them.

    A step call's key is computed before the runner knows whether it is a hit, and a hit
    needs nothing else of its components.
    """
    canonical = _COMPACT(
        [
            KEY_SCHEMA,
            step,
            code,
            sorted(inputs.items()),
            sorted(params.items()),
            sorted(packages.items()),
            serializer,
        ]
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyChange:
    """One difference between two sets of key components.

    Attributes:
        part: ``step``, ``code``, ``input``, ``param``, ``package`` or ``serializer``.
        name: the argument or package concerned ("" for code and step).
        old: the earlier value (None when absent then).
        new: the later value (None when absent now).
    """

    part: str
    name: str
    old: str | None
    new: str | None

    def describe(self) -> str:
        """One line for a person."""
        if self.part == "code":
            return "the step's code changed (or something it calls)"
        if self.part == "serializer":
            return f"the output format changed: {self.old} -> {self.new}"
        if self.part == "step":
            return f"a different step: {self.old} -> {self.new}"
        label = {"input": "input", "param": "param", "package": "package"}[self.part]
        if self.old is None:
            return f"{label} {self.name!r} is new ({self.new})"
        if self.new is None:
            return f"{label} {self.name!r} was removed (was {self.old})"
        if self.part == "input":
            return f"input {self.name!r} has different content ({self.old[:12]} -> {self.new[:12]})"
        return f"{label} {self.name!r} changed: {self.old} -> {self.new}"


def diff_components(old: KeyComponents, new: KeyComponents) -> list[KeyChange]:
    """What differs between two key component sets, code first, then inputs, params, packages."""
    changes: list[KeyChange] = []
    if old.step != new.step:
        changes.append(KeyChange("step", "", old.step, new.step))
    if old.code != new.code:
        changes.append(KeyChange("code", "", old.code, new.code))
    if old.serializer != new.serializer:
        changes.append(KeyChange("serializer", "", old.serializer, new.serializer))
    changes += _diff_maps("input", old.inputs, new.inputs)
    for name in sorted(set(old.params) | set(new.params)):
        before, after = old.params.get(name), new.params.get(name)
        if before != after:
            changes.append(
                KeyChange(
                    "param",
                    name,
                    None if before is None else old.shown.get(name, before[:12]),
                    None if after is None else new.shown.get(name, after[:12]),
                )
            )
    changes += _diff_maps("package", old.packages, new.packages)
    return changes


def _diff_maps(part: str, old: Mapping[str, str], new: Mapping[str, str]) -> list[KeyChange]:
    return [
        KeyChange(part, name, old.get(name), new.get(name))
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    ]
