"""API tokens of the SQL store: kept by SHA-256 hash, never in clear."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa

from runyard.entities.registry import ApiToken
from runyard.errors import AlreadyExists, InvalidArgument, NotFound
from runyard.tracking.store.sql.registry_schema import api_tokens

__all__ = ["SqlTokenMixin"]

_SCOPES = ("read", "write", "admin")


def _token(row: Any) -> ApiToken:
    return ApiToken(
        row.token_id, row.name, row.scope, int(row.created), row.expires, bool(row.revoked)
    )


class SqlTokenMixin:
    """The token methods of :class:`~runyard.tracking.store.sql.SqlTrackingStore`."""

    def _tx(self, what: str, write: bool = False) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError  # pragma: no cover - provided by SqlTrackingStore

    @property
    def supports_tokens(self) -> bool:
        """The SQL store keeps API tokens."""
        return True

    def create_token(
        self, token_id: str, name: str, scope: str, token_hash: str, expires: int | None = None
    ) -> ApiToken:
        """Store a token by its hash."""
        if scope not in _SCOPES:
            raise InvalidArgument(f"scope must be one of {', '.join(_SCOPES)}, not {scope!r}")
        if not token_id or len(token_id) > 32 or len(token_hash) != 64 or len(name) > 250:
            raise InvalidArgument("a token needs an id of 1-32 characters and a SHA-256 hex hash")
        row = {
            "token_id": token_id,
            "name": name,
            "scope": scope,
            "token_hash": token_hash,
            "created": int(time.time() * 1000),
            "expires": expires,
            "revoked": False,
        }
        try:
            with self._tx("create_token", write=True) as conn:
                conn.execute(api_tokens.insert().values(**row))
        except AlreadyExists as e:
            raise AlreadyExists(f"a token with id {token_id!r} exists already") from e
        return ApiToken(token_id, name, scope, int(row["created"]), expires)  # type: ignore[call-overload]

    def find_token(self, token_hash: str) -> ApiToken | None:
        """The token with that hash, or None."""
        with self._tx("find_token") as conn:
            row = conn.execute(
                sa.select(api_tokens).where(api_tokens.c.token_hash == token_hash)
            ).first()
        return None if row is None else _token(row)

    def list_tokens(self) -> list[ApiToken]:
        """Every token, oldest first."""
        with self._tx("list_tokens") as conn:
            rows = conn.execute(sa.select(api_tokens).order_by(api_tokens.c.created)).all()
        return [_token(r) for r in rows]

    def revoke_token(self, token_id: str) -> None:
        """Revoke a token. Raises NotFound."""
        with self._tx("revoke_token", write=True) as conn:
            done = conn.execute(
                api_tokens.update().where(api_tokens.c.token_id == token_id).values(revoked=True)
            )
            if done.rowcount == 0:
                raise NotFound(f"no token has id {token_id!r}")
