"""Turn ``(ctx, fields) -> dict`` functions into FastAPI endpoints of the MLflow API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from runyard.server.context import ServerContext, context_of
from runyard.server.mlflow_compat.request import payload

__all__ = ["Handler", "add_routes"]

Handler = Callable[[ServerContext, dict[str, Any]], dict[str, Any]]


def _endpoint(fn: Handler) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> JSONResponse:
        fields = await payload(request)
        ctx = context_of(request)
        return JSONResponse(await run_in_threadpool(fn, ctx, fields))

    endpoint.__name__ = fn.__name__
    endpoint.__doc__ = fn.__doc__
    return endpoint


def add_routes(router: APIRouter, routes: list[tuple[str, list[str], Handler]]) -> None:
    """Register ``(path, methods, handler)`` triples on ``router``."""
    for path, methods, fn in routes:
        for method in methods:
            router.add_api_route(
                path,
                _endpoint(fn),
                methods=[method],
                name=f"mlflow_{fn.__name__}",
                operation_id=f"mlflow_{fn.__name__}_{method.lower()}",
                tags=["mlflow"],
            )
