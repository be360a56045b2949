"""``/api/v1/runs``: create, get, update, delete, restore, batched logging, tags."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from runyard.entities import RunStatus
from runyard.errors import InvalidArgument
from runyard.server.context import ServerContext, context_of
from runyard.server.ingest import log_columns
from runyard.server.routes._views import json_response
from runyard.wire import CreateRunRequest, LogBatchRequest, RunOut, TagRequest, UpdateRunRequest
from runyard.wire.arrow_batch import ARROW_STREAM, group_by_key, parse_arrow

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/runs", tags=["runs"])
Ctx = Annotated[ServerContext, Depends(context_of)]


@router.post("", status_code=201, response_model=RunOut)
def create_run(body: CreateRunRequest, ctx: Ctx) -> Response:
    """Create a RUNNING run."""
    run = ctx.store.create_run(
        body.experiment_id,
        name=body.name,
        start_time=body.start_time,
        tags=body.tags,
        parent_run_id=body.parent_run_id,
        artifact_uri=body.artifact_uri,
    )
    return json_response(RunOut.of(run), 201)


@router.get("/{run_id}", response_model=RunOut)
def get_run(run_id: str, ctx: Ctx) -> Response:
    """A run with its params, tags and metric summaries."""
    return json_response(RunOut.of(ctx.store.get_run(run_id)))


@router.patch("/{run_id}", response_model=RunOut)
def update_run(run_id: str, body: UpdateRunRequest, ctx: Ctx) -> Response:
    """Change status, end time or name."""
    status = RunStatus(body.status) if body.status else None
    return json_response(RunOut.of(ctx.store.update_run(run_id, status, body.end_time, body.name)))


@router.delete("/{run_id}", status_code=204)
def delete_run(run_id: str, ctx: Ctx) -> Response:
    """Soft-delete a run."""
    ctx.store.delete_run(run_id)
    return Response(status_code=204)


@router.post("/{run_id}/restore", status_code=204)
def restore_run(run_id: str, ctx: Ctx) -> Response:
    """Undo a delete."""
    ctx.store.restore_run(run_id)
    return Response(status_code=204)


@router.post("/{run_id}/batch", status_code=204)
def log_batch(run_id: str, body: LogBatchRequest, ctx: Ctx) -> Response:
    """Append metric points (columnar) and set params and tags, atomically and idempotently."""
    cols = body.metrics
    n = len(cols.key)
    if not len(cols.value) == len(cols.step) == len(cols.timestamp) == n:
        raise InvalidArgument("metrics columns key, value, step and timestamp differ in length")
    try:
        steps = np.array(cols.step, np.int64)
        stamps = np.array(cols.timestamp, np.int64)
    except OverflowError as e:
        raise InvalidArgument("a metric step or timestamp does not fit in 64 bits") from e
    columns = group_by_key(cols.key, steps, np.array(cols.value, np.float64), stamps)
    log_columns(ctx.store, run_id, columns, body.params, body.tags, body.batch_id)
    ctx.telemetry.add_points(n)
    return Response(status_code=204)


_ARROW_BODY = {
    "requestBody": {
        "required": True,
        "content": {ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post("/{run_id}/batch/arrow", status_code=204, openapi_extra=_ARROW_BODY)
async def log_batch_arrow(run_id: str, request: Request, ctx: Ctx) -> Response:
    """:func:`log_batch` with an Arrow IPC body (``runyard.wire.arrow_batch``): cheapest ingest.

    Columns ``key`` (string or dictionary), ``value`` (float64), ``step`` and ``timestamp``
    (int64); params, tags and ``batch_id`` in the schema metadata ``runyard.batch``.
    """
    columns, extra = parse_arrow(await request.body())
    n = await run_in_threadpool(
        log_columns, ctx.store, run_id, columns, extra["params"], extra["tags"], extra["batch_id"]
    )
    ctx.telemetry.add_points(n)
    return Response(status_code=204)


@router.post("/{run_id}/tags/delete", status_code=204)
def delete_tag(run_id: str, body: TagRequest, ctx: Ctx) -> Response:
    """Remove a tag."""
    ctx.store.delete_tag(run_id, body.key)
    return Response(status_code=204)
