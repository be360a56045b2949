"""Size limits and the checks that enforce them, shared by stores and clients.

Checks raise :class:`~runyard.errors.InvalidArgument` with a message that names the
offending key, so a refused write is caught before anything reaches a store.
"""

from __future__ import annotations

import math
import numbers

from runyard.errors import InvalidArgument

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_PARAM_VALUE_LENGTH",
    "MAX_TAG_VALUE_LENGTH",
    "check_key",
    "check_metric_value",
    "check_param_value",
    "check_step",
    "check_tag_value",
]

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000


def check_key(key: object, what: str = "key") -> str:
    """Return ``key`` if it is a non-empty string of at most MAX_KEY_LENGTH characters."""
    if not isinstance(key, str) or not key:
        raise InvalidArgument(f"{what} must be a non-empty string, got {key!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidArgument(
            f"{what} {key[:40]!r}... is {len(key)} characters; the limit is {MAX_KEY_LENGTH}"
        )
    return key


def check_param_value(key: str, value: str) -> str:
    """Return ``value`` if it fits MAX_PARAM_VALUE_LENGTH."""
    if len(value) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidArgument(
            f"param {key!r} value is {len(value)} characters; the limit is {MAX_PARAM_VALUE_LENGTH}"
        )
    return value


def check_tag_value(key: str, value: str) -> str:
    """Return ``value`` if it fits MAX_TAG_VALUE_LENGTH."""
    if len(value) > MAX_TAG_VALUE_LENGTH:
        raise InvalidArgument(
            f"tag {key!r} value is {len(value)} characters; the limit is {MAX_TAG_VALUE_LENGTH}"
        )
    return value


def check_step(key: str, step: object) -> int:
    """Return ``step`` as an int; refuse NaN, infinities, fractions and non-numbers."""
    if isinstance(step, bool) or not isinstance(step, numbers.Real):
        raise InvalidArgument(f"metric {key!r}: step must be an integer, got {step!r}")
    if isinstance(step, numbers.Integral):
        return int(step)
    as_float = float(step)
    if not math.isfinite(as_float) or not as_float.is_integer():
        raise InvalidArgument(f"metric {key!r}: step must be a finite integer, got {step!r}")
    return int(as_float)


def check_metric_value(key: str, value: object) -> float:
    """Return ``value`` as a float (NaN and ±inf allowed); refuse non-numbers."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        try:
            return float(value)  # type: ignore[arg-type]  # numpy/torch scalars
        except (TypeError, ValueError) as e:
            raise InvalidArgument(f"metric {key!r}: value must be a number, got {value!r}") from e
    return float(value)
