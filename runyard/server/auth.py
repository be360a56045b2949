"""Bearer-token auth: which scope a request needs, and whether a token grants it.

Tokens look like ``ry_<id>_<secret>``; the store keeps only their SHA-256 (a token has 256
bits of entropy, so a fast hash is enough). Scopes are ordered: ``read`` < ``write`` <
``admin``. Reads are GET/HEAD and the POST searches; everything else writes; token
management needs admin. ``/health`` is the only route that answers without a token.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time

from runyard.errors import InvalidArgument
from runyard.tracking.store.base import TrackingStore

__all__ = ["SCOPES", "OPEN_PATHS", "TokenVerifier", "hash_token", "new_token", "required_scope"]

SCOPES = ("read", "write", "admin")
OPEN_PATHS = frozenset({"/health"})
_READ_POST_SUFFIXES = ("/search", "/histories", "/export", "/get-history-bulk-interval")
_CACHE_S = 5.0


def hash_token(token: str) -> str:
    """The hex SHA-256 a store keeps for ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh ``(token_id, token)``; show the token once, store only its hash."""
    token_id = secrets.token_hex(6)
    return token_id, f"ry_{token_id}_{secrets.token_urlsafe(32)}"


def required_scope(method: str, path: str) -> str:
    """The least scope a request needs."""
    if "/tokens" in path:
        return "admin"
    if method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    if method == "POST" and path.endswith(_READ_POST_SUFFIXES):
        return "read"
    return "write"


def check_scope(scope: str) -> str:
    """Return ``scope`` if it is one of :data:`SCOPES`, else raise InvalidArgument."""
    if scope not in SCOPES:
        raise InvalidArgument(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    return scope


class TokenVerifier:
    """Looks tokens up in the store, caching answers for a few seconds."""

    def __init__(self, store: TrackingStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, str | None]] = {}

    def scope_of(self, token: str) -> str | None:
        """The scope the token grants, or None when it is unknown, revoked or expired."""
        digest = hash_token(token)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < _CACHE_S:
            return hit[1]
        found = self._store.find_token(digest)
        scope = None if found is None or not found.is_valid() else found.scope
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, scope)
        return scope

    @staticmethod
    def grants(scope: str, needed: str) -> bool:
        """True when ``scope`` is at least ``needed``."""
        return SCOPES.index(scope) >= SCOPES.index(needed)
