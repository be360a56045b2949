"""Wire schemas for metric ingest and metric history (columnar)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["HistoriesRequest", "LogBatchRequest", "MetricColumns", "SeriesOut", "SeriesPage"]

_FLOATS = ConfigDict(ser_json_inf_nan="strings", extra="forbid")


class MetricColumns(BaseModel):
    """Metric points as four equally long columns (cheaper to parse than objects).

    Attributes:
        key: metric name of each point.
        value: any float; non-finite values as ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.
        step: integer steps.
        timestamp: milliseconds since the epoch.
    """

    model_config = _FLOATS
    key: list[str] = Field(default_factory=list)
    value: list[float] = Field(default_factory=list)
    step: list[int] = Field(default_factory=list)
    timestamp: list[int] = Field(default_factory=list)


class LogBatchRequest(BaseModel):
    """``POST /api/v1/runs/{id}/batch``: append points, set params and tags, atomically.

    A ``batch_id`` makes a retried request a no-op on the server.
    """

    model_config = _FLOATS
    metrics: MetricColumns = Field(default_factory=MetricColumns)
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    batch_id: str | None = None


class HistoriesRequest(BaseModel):
    """``POST /api/v1/metrics/histories``: one key of many runs.

    Attributes:
        run_ids: the runs, answered in this order.
        key: the metric.
        max_points: when set, each series is downsampled on the server to at most this
            many points (min/max per bucket, so spikes survive) for charts.
        format: ``json`` (columnar JSON) or ``arrow`` (an Arrow IPC stream with columns
            ``run_id, step, value, timestamp``).
    """

    model_config = _FLOATS
    run_ids: list[str]
    key: str
    max_points: int | None = Field(default=None, ge=2, le=100_000)
    format: str = Field(default="json", pattern="^(json|arrow)$")


class SeriesOut(BaseModel):
    """One series, columnar."""

    model_config = _FLOATS
    run_id: str
    key: str
    step: list[int]
    value: list[float]
    timestamp: list[int]


class SeriesPage(BaseModel):
    """Several series, in the order asked for."""

    model_config = _FLOATS
    series: list[SeriesOut]
