"""Parsing of the human-friendly durations and sizes that step options accept."""

from __future__ import annotations

import re

from runyard.errors import InvalidArgument

__all__ = ["parse_duration", "parse_size"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_POWERS = {"k": 1, "m": 2, "g": 3, "t": 4}


def parse_duration(value: str | float | None, what: str = "timeout") -> float | None:
    """Seconds from ``30``, ``"30s"``, ``"10m"``, ``"1.5h"``, ``"250ms"`` (None stays None).

    Raises:
        InvalidArgument: not a positive duration.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidArgument(f"{what} must be a duration like '10m', got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if match is None:
            raise InvalidArgument(f"{what} must be a duration like '90s' or '10m', got {value!r}")
        seconds = float(match.group(1)) * _SECONDS[match.group(2)]
    if not seconds > 0:
        raise InvalidArgument(f"{what} must be positive, got {value!r}")
    return seconds


def parse_size(value: str | int | None, what: str = "memory") -> int | None:
    """Bytes from ``1024``, ``"512MB"``, ``"2GiB"`` (decimal for kB/MB/GB, binary for KiB...).

    Raises:
        InvalidArgument: not a positive size.
    """
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and (match := _SIZE.match(value)):
        unit = (match.group(2) or "b").lower()
        base = 1024 if "i" in unit else 1000
        size = int(float(match.group(1)) * base ** _POWERS.get(unit[0], 0))
    else:
        raise InvalidArgument(f"{what} must be a size like '2GB', got {value!r}")
    if size <= 0:
        raise InvalidArgument(f"{what} must be positive, got {value!r}")
    return size
