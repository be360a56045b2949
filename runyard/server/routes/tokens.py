"""``/api/v1/tokens``: API tokens by their hash, for admins (the token itself never travels).

Every route here needs an ``admin`` token when the server runs with ``--auth``. A store
that keeps no tokens answers 501.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from runyard.errors import NotFound
from runyard.server.context import ServerContext, context_of
from runyard.server.routes._views import json_response
from runyard.wire import ApiTokenOut, CreateTokenRequest

__all__ = ["router"]


def _tokens(ctx: Annotated[ServerContext, Depends(context_of)]) -> ServerContext:
    if not ctx.store.supports_tokens:
        raise HTTPException(501, "the server's tracking store keeps no API tokens")
    return ctx


router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])
Ctx = Annotated[ServerContext, Depends(_tokens)]


@router.post("", status_code=201, response_model=ApiTokenOut)
def create_token(body: CreateTokenRequest, ctx: Ctx) -> Response:
    """Store a token by its SHA-256 hex hash."""
    token = ctx.store.create_token(
        body.token_id, body.name, body.scope, body.token_hash, body.expires
    )
    return json_response(ApiTokenOut.of(token), 201)


@router.get("", response_model=list[ApiTokenOut])
def list_tokens(ctx: Ctx) -> list[ApiTokenOut]:
    """Every token, oldest first (revoked ones included)."""
    return [ApiTokenOut.of(t) for t in ctx.store.list_tokens()]


@router.get("/by-hash", response_model=ApiTokenOut)
def find_token(token_hash: Annotated[str, Query(min_length=1)], ctx: Ctx) -> Response:
    """The token with that hash (404 when there is none)."""
    found = ctx.store.find_token(token_hash)
    if found is None:
        raise NotFound("no token has that hash")
    return json_response(ApiTokenOut.of(found))


@router.delete("/{token_id}", status_code=204)
def revoke_token(token_id: str, ctx: Ctx) -> Response:
    """Revoke a token."""
    ctx.store.revoke_token(token_id)
    return Response(status_code=204)
