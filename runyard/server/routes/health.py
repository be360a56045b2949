"""Liveness, readiness, Prometheus metrics, and what the server's store can do."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse

from runyard.errors import RunyardError
from runyard.server.context import ServerContext, context_of

__all__ = ["router"]

router = APIRouter(tags=["health"])
Ctx = Annotated[ServerContext, Depends(context_of)]


@router.get("/health")
def health() -> dict[str, str]:
    """Answers while the process is up (no store access, no token needed)."""
    return {"status": "ok"}


@router.get("/ready")
def ready(ctx: Ctx) -> JSONResponse:
    """200 when the tracking store answers, else 503."""
    try:
        ctx.store.get_experiment("0")
    except RunyardError as e:
        return JSONResponse({"status": "unavailable", "reason": str(e)}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(ctx: Ctx) -> PlainTextResponse:
    """Prometheus metrics of this server process."""
    return PlainTextResponse(ctx.telemetry.render(), media_type="text/plain; version=0.0.4")


@router.get("/api/v1/capabilities")
def capabilities(ctx: Ctx) -> dict[str, bool]:
    """Which optional parts of the store contract the server's store implements."""
    store = ctx.store
    return {
        "cache": store.supports_cache,
        "registry": store.supports_registry,
        "tokens": store.supports_tokens,
    }
