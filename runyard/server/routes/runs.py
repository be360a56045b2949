"""``/api/v1/runs``: create, get, update, delete, restore, batched logging, tags."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from runyard.entities import Metric, RunStatus
from runyard.errors import InvalidArgument
from runyard.server.context import ServerContext, context_of
from runyard.server.routes._views import json_response
from runyard.wire import CreateRunRequest, LogBatchRequest, RunOut, TagRequest, UpdateRunRequest

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
    points = [
        Metric(k, v, s, t)
        for k, v, s, t in zip(cols.key, cols.value, cols.step, cols.timestamp, strict=True)
    ]
    ctx.store.log_batch(run_id, points, body.params, body.tags, body.batch_id)
    ctx.telemetry.add_points(n)
    return Response(status_code=204)


@router.post("/{run_id}/tags/delete", status_code=204)
def delete_tag(run_id: str, body: TagRequest, ctx: Ctx) -> Response:
    """Remove a tag."""
    ctx.store.delete_tag(run_id, body.key)
    return Response(status_code=204)
