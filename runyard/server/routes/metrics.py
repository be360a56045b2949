"""Metric history: one series, or one key of many runs (JSON or Arrow), optionally downsampled.

Many runs are read a slice at a time and downsampled before the next slice is read, so a
chart request over long series holds at most one slice of full series in memory.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from runyard.entities import MetricSeries
from runyard.server.arrow_export import series_to_arrow
from runyard.server.context import ServerContext, context_of
from runyard.server.downsample import downsample
from runyard.server.routes._views import json_response
from runyard.wire import HistoriesRequest, SeriesOut, SeriesPage

__all__ = ["router"]

ARROW_STREAM = "application/vnd.apache.arrow.stream"
_SLICE_RUNS = 16
router = APIRouter(prefix="/api/v1", tags=["metrics"])
Ctx = Annotated[ServerContext, Depends(context_of)]


def _wire(s: MetricSeries) -> SeriesOut:
    return SeriesOut.model_construct(
        run_id=s.run_id,
        key=s.key,
        step=s.steps.tolist(),
        value=s.values.tolist(),
        timestamp=s.timestamps.tolist(),
    )


@router.get("/runs/{run_id}/metrics/history", response_model=SeriesOut)
def get_metric_history(
    run_id: str,
    key: str,
    ctx: Ctx,
    max_points: Annotated[int | None, Query(ge=2, le=100_000)] = None,
) -> Response:
    """A whole series in logging order (downsampled to ``max_points`` when given)."""
    series = ctx.store.get_metric_history(run_id, key)
    if max_points is not None:
        series = downsample(series, max_points)
    return json_response(_wire(series))


@router.post(
    "/metrics/histories",
    response_model=SeriesPage,
    responses={200: {"content": {ARROW_STREAM: {}}}},
)
def get_metric_histories(body: HistoriesRequest, ctx: Ctx) -> Response:
    """The series of one key for many runs, in the order asked (JSON or Arrow IPC)."""
    out: list[MetricSeries] = []
    for i in range(0, len(body.run_ids), _SLICE_RUNS):
        chunk = ctx.store.get_metric_histories(body.run_ids[i : i + _SLICE_RUNS], body.key)
        if body.max_points is not None:
            chunk = [downsample(s, body.max_points) for s in chunk]
        out.extend(chunk)
    if body.format == "arrow":
        return Response(series_to_arrow(out), media_type=ARROW_STREAM)
    return json_response(SeriesPage.model_construct(series=[_wire(s) for s in out]))
