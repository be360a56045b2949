"""A bounded memo for the request path: answers remembered per key, forgotten all at once.

The fast paths remember what they derive from what clients repeat (a request head, an
inference path, a tensor shape). Lookups are plain ``dict.get`` in the caller; this is the
miss: remember the answer, and when the memo is full, forget everything first, so a client
that never repeats itself costs a bounded amount of memory and nothing else.

Example:
    >>> memo: dict[str, int] = {}
    >>> remember(memo, "a", 1, limit=1), remember(memo, "b", 2, limit=1), memo
    (1, 2, {'b': 2})
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["remember"]

K = TypeVar("K")
V = TypeVar("V")


def remember(memo: dict[K, V], key: K, value: V, limit: int) -> V:
    """Store ``value`` under ``key`` (clearing ``memo`` first when it holds ``limit``)."""
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value
    return value
