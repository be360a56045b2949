"""Opaque page tokens: URL-safe base64 of a small JSON object.

Example:
    >>> decode_page_token(encode_page_token({"offset": 100}))
    {'offset': 100}
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from runyard.errors import InvalidArgument

__all__ = ["decode_page_token", "encode_page_token"]


def encode_page_token(state: dict[str, Any]) -> str:
    """Encode a JSON-able dict as a token."""
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> dict[str, Any]:
    """Decode a token from :func:`encode_page_token`.

    Raises:
        InvalidArgument: the token was not made by :func:`encode_page_token`.
    """
    try:
        padded = token + "=" * (-len(token) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeError) as e:
        raise InvalidArgument(f"invalid page token {token[:40]!r}") from e
    if not isinstance(state, dict):
        raise InvalidArgument(f"invalid page token {token[:40]!r}")
    return state
