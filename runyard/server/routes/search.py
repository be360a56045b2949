"""``/api/v1/runs/search`` and the bulk export of runs as an Arrow IPC stream."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from runyard.server.arrow_export import runs_to_arrow
from runyard.server.context import ServerContext, context_of
from runyard.server.routes._views import json_response, parse_view
from runyard.wire import RunOut, RunPage, SearchRunsRequest

__all__ = ["ARROW_STREAM", "router"]

ARROW_STREAM = "application/vnd.apache.arrow.stream"
router = APIRouter(prefix="/api/v1/runs", tags=["runs"])
Ctx = Annotated[ServerContext, Depends(context_of)]


@router.post("/search", response_model=RunPage)
def search_runs(body: SearchRunsRequest, ctx: Ctx) -> Response:
    """Search runs with the runyard filter language; one page per call."""
    page = ctx.store.search_runs(
        body.experiment_ids,
        body.filter,
        body.order_by,
        body.max_results,
        body.page_token,
        parse_view(body.view),
    )
    out = RunPage.model_construct(
        runs=[RunOut.of(r) for r in page], next_page_token=page.next_page_token
    )
    return json_response(out)


@router.post(
    "/export",
    response_class=Response,
    responses={200: {"content": {ARROW_STREAM: {}}, "description": "an Arrow IPC stream"}},
)
def export_runs(body: SearchRunsRequest, ctx: Ctx) -> Response:
    """One page of a search as an Arrow table: a row per run, a column per param/tag/metric.

    Columns: ``run_id, experiment_id, name, status, start_time, end_time, parent_run_id,
    artifact_uri, lifecycle_stage``, then ``params.<k>``, ``tags.<k>`` (strings) and
    ``metrics.<k>`` (the latest value). The next page token is in ``X-Next-Page-Token``.
    """
    page = ctx.store.search_runs(
        body.experiment_ids,
        body.filter,
        body.order_by,
        body.max_results,
        body.page_token,
        parse_view(body.view),
    )
    headers = {"X-Next-Page-Token": page.next_page_token} if page.next_page_token else {}
    return Response(runs_to_arrow(page.items), media_type=ARROW_STREAM, headers=headers)
