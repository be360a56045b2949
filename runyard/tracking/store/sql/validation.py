"""Checks on caller input, done before any write so that a refused call writes nothing."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Real

from runyard.entities import Metric
from runyard.errors import InvalidArgument
from runyard.tracking.store.base import (
    MAX_KEY_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
)

__all__ = ["check_key", "check_metrics", "check_params", "check_tags", "check_tag_value"]

_INT64_MAX = 2**63 - 1


def check_key(key: object, what: str) -> str:
    """A non-empty string of at most MAX_KEY_LENGTH characters."""
    if not isinstance(key, str) or not key:
        raise InvalidArgument(f"{what} key must be a non-empty string, got {key!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidArgument(
            f"{what} key {key[:40]!r}... is {len(key)} characters, more than {MAX_KEY_LENGTH}"
        )
    return key


def _check_value(key: str, value: object, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{what} {key!r} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidArgument(
            f"{what} {key!r} has a value of {len(value)} characters, more than {limit}"
        )
    return value


def check_tag_value(key: str, value: object) -> str:
    """A string of at most MAX_TAG_VALUE_LENGTH characters."""
    return _check_value(key, value, "tag", MAX_TAG_VALUE_LENGTH)


def check_params(params: Mapping[str, str] | None) -> dict[str, str]:
    """Validated params as a plain dict."""
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        out[check_key(key, "param")] = _check_value(key, value, "param", MAX_PARAM_VALUE_LENGTH)
    return out


def check_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    """Validated tags as a plain dict."""
    out: dict[str, str] = {}
    for key, value in (tags or {}).items():
        out[check_key(key, "tag")] = check_tag_value(key, value)
    return out


def _as_int(value: object, what: str, key: str) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        n = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        n = int(value)
    else:
        raise InvalidArgument(f"metric {key!r}: {what} must be an integer, got {value!r}")
    if not -_INT64_MAX - 1 <= n <= _INT64_MAX:
        raise InvalidArgument(f"metric {key!r}: {what} {n} does not fit in 64 bits")
    return n


def check_metrics(metrics: Sequence[Metric]) -> dict[str, list[tuple[int, float, int]]]:
    """Validated points grouped by key in logging order: ``{key: [(step, value, ts)]}``."""
    by_key: dict[str, list[tuple[int, float, int]]] = {}
    for m in metrics:
        key = check_key(m.key, "metric")
        if not isinstance(m.value, Real):
            raise InvalidArgument(f"metric {key!r}: value must be a number, got {m.value!r}")
        step = _as_int(m.step, "step", key)
        ts = _as_int(m.timestamp, "timestamp", key)
        by_key.setdefault(key, []).append((step, float(m.value), ts))
    return by_key
