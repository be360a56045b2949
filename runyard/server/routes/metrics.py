"""Metric history: one series, or one key of many runs (JSON or Arrow), optionally downsampled.

Many runs are read a slice at a time and downsampled before the next slice is read, so a
chart request over long series holds at most one slice of full series in memory. The store
downsamples (``get_downsampled_histories``); the SQL store does it from per-chunk sketches,
without reading every point.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Query, Response

from runyard.entities import MetricSeries
from runyard.server.arrow_export import series_to_arrow
from runyard.server.context import ServerContext, context_of
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


def _downsampled(
    ctx: ServerContext, run_ids: Sequence[str], key: str, max_points: int
) -> list[MetricSeries]:
    return ctx.store.get_downsampled_histories(run_ids, key, max_points)


def _series_json(series: Sequence[MetricSeries]) -> bytes:
    """``SeriesPage`` JSON; orjson when every value is finite (else pydantic names them)."""
    if all(np.isfinite(np.frombuffer(s.values, np.float64)).all() for s in series if len(s)):
        return orjson.dumps(
            {
                "series": [
                    {
                        "run_id": s.run_id,
                        "key": s.key,
                        "step": np.frombuffer(s.steps, np.int64),
                        "value": np.frombuffer(s.values, np.float64),
                        "timestamp": np.frombuffer(s.timestamps, np.int64),
                    }
                    for s in series
                ]
            },
            option=orjson.OPT_SERIALIZE_NUMPY,
        )
    return SeriesPage.model_construct(series=[_wire(s) for s in series]).model_dump_json().encode()


@router.get("/runs/{run_id}/metrics/history", response_model=SeriesOut)
def get_metric_history(
    run_id: str,
    key: str,
    ctx: Ctx,
    max_points: Annotated[int | None, Query(ge=2, le=100_000)] = None,
) -> Response:
    """A whole series in logging order (downsampled to ``max_points`` when given)."""
    if max_points is not None:
        series = _downsampled(ctx, [run_id], key, max_points)[0]
    else:
        series = ctx.store.get_metric_history(run_id, key)
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
        ids = body.run_ids[i : i + _SLICE_RUNS]
        if body.max_points is not None:
            out.extend(_downsampled(ctx, ids, body.key, body.max_points))
        else:
            out.extend(ctx.store.get_metric_histories(ids, body.key))
    if body.format == "arrow":
        return Response(series_to_arrow(out), media_type=ARROW_STREAM)
    return Response(_series_json(out), media_type="application/json")
