"""The cache key parts of one step call, and what its step run records about its inputs."""

from __future__ import annotations

from runyard.pipelines._inputs import Call
from runyard.pipelines._recorder import param_text
from runyard.pipelines.cache_key import KeyComponents, key_of_parts
from runyard.pipelines.fingerprint import Unhashable, code_fingerprint

__all__ = ["call_key", "input_digests", "key_components", "params_of"]

_Parts = tuple[str, str, dict[str, str], dict[str, str], dict[str, str], str, dict[str, str]]
"""step, code, inputs, params, packages, serializer, shown: see :class:`KeyComponents`."""


def _parts(call: Call) -> tuple[_Parts | None, str | None]:
    step = call.node.step
    if not step.options.cache:
        return None, "the step has cache=False"
    try:
        code = code_fingerprint(step.fn)
        packages = dict(code.packages)
        digest = code.digest
    except Unhashable as e:
        if step.options.version is None:
            return None, f"the step's code cannot be fingerprinted: {e.reason}"
        packages, digest = {}, ""
    inputs, values, shown = {}, {}, {}
    for name, h in call.hashes.items():
        if h.digest is None:
            return None, f"input {name!r} cannot be hashed: {h.reason}"
        if h.from_steps:
            inputs[name] = h.digest
        else:
            values[name] = h.digest
            shown[name] = h.shown
    version = step.options.version
    code_part = f"version:{version}" if version else digest
    serializer = step.options.serializer or "auto"
    return (step.name, code_part, inputs, values, packages, serializer, shown), None


def key_components(call: Call) -> tuple[KeyComponents | None, str | None]:
    """The key components of ``call``, or None and the reason it cannot be cached."""
    parts, reason = _parts(call)
    if parts is None:
        return None, reason
    step, code, inputs, params, packages, serializer, shown = parts
    return KeyComponents(step, code, inputs, params, packages, serializer, shown), None


def call_key(call: Call) -> tuple[str | None, str | None]:
    """The cache key of ``call``, or None and the reason it cannot be cached.

    As ``cache_key(key_components(call))``, without building the components (a hit does
    not need them).
    """
    parts, reason = _parts(call)
    if parts is None:
        return None, reason
    return key_of_parts(*parts[:6]), None


def params_of(call: Call) -> dict[str, str]:
    """The call's parameter and constant arguments, as recorded params of its step run."""
    return {k: param_text(call.kwargs[k]) for k, h in call.hashes.items() if not h.from_steps}


def input_digests(call: Call) -> list[str]:
    """The content digests (``sha256:<hex>``) of the arguments that came from other steps."""
    return [
        h.digest if ":" in h.digest else f"sha256:{h.digest}"
        for h in call.hashes.values()
        if h.from_steps and h.digest
    ]
