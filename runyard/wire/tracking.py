"""Wire schemas for experiments, runs, searches, and the pipeline cache."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CacheEntry",
    "CreateExperimentRequest",
    "CreateRunRequest",
    "ExperimentOut",
    "ExperimentPage",
    "MetricSummaryOut",
    "RenameExperimentRequest",
    "RunOut",
    "RunPage",
    "SearchRunsRequest",
    "TagRequest",
    "UpdateRunRequest",
    "View",
]

View = Literal["active", "deleted", "all"]
"""Which lifecycle stage a listing returns."""

_FLOATS = ConfigDict(ser_json_inf_nan="strings", extra="forbid")

Millis = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
"""Milliseconds since the epoch, as the stores keep them (a signed 64-bit integer)."""


class CreateExperimentRequest(BaseModel):
    """``POST /api/v1/experiments``."""

    model_config = _FLOATS
    name: str
    artifact_location: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class RenameExperimentRequest(BaseModel):
    """``PATCH /api/v1/experiments/{id}``."""

    model_config = _FLOATS
    name: str


class TagRequest(BaseModel):
    """Set one tag (``POST .../tags``) or delete one (``POST .../tags/delete``)."""

    model_config = _FLOATS
    key: str
    value: str = ""


class ExperimentOut(BaseModel):
    """An experiment."""

    model_config = _FLOATS
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: Literal["active", "deleted"]
    creation_time: int
    tags: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def of(cls, exp: Any) -> ExperimentOut:
        """Build from a :class:`runyard.entities.Experiment`."""
        return cls(
            experiment_id=exp.experiment_id,
            name=exp.name,
            artifact_location=exp.artifact_location,
            lifecycle_stage=str(exp.lifecycle_stage),  # type: ignore[arg-type]
            creation_time=exp.creation_time,
            tags=dict(exp.tags),
        )


class ExperimentPage(BaseModel):
    """A page of experiments."""

    model_config = _FLOATS
    experiments: list[ExperimentOut]
    next_page_token: str | None = None


class CreateRunRequest(BaseModel):
    """``POST /api/v1/runs``."""

    model_config = _FLOATS
    experiment_id: str
    name: str | None = None
    start_time: Millis | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    parent_run_id: str | None = None
    artifact_uri: str | None = None


class UpdateRunRequest(BaseModel):
    """``PATCH /api/v1/runs/{id}``."""

    model_config = _FLOATS
    status: Literal["RUNNING", "FINISHED", "FAILED", "KILLED"] | None = None
    end_time: Millis | None = None
    name: str | None = None


class MetricSummaryOut(BaseModel):
    """The summary of one metric key of a run."""

    model_config = _FLOATS
    latest: float
    latest_step: int
    latest_timestamp: int
    min: float
    max: float
    count: int


class RunOut(BaseModel):
    """A run with its params, tags and metric summaries."""

    model_config = _FLOATS
    run_id: str
    experiment_id: str
    name: str
    status: Literal["RUNNING", "FINISHED", "FAILED", "KILLED"]
    start_time: int
    end_time: int | None
    parent_run_id: str | None
    artifact_uri: str
    lifecycle_stage: Literal["active", "deleted"]
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, MetricSummaryOut] = Field(default_factory=dict)

    @classmethod
    def of(cls, run: Any) -> RunOut:
        """Build from a :class:`runyard.entities.Run`."""
        return cls.model_construct(
            run_id=run.run_id,
            experiment_id=run.experiment_id,
            name=run.name,
            status=str(run.status),
            start_time=run.start_time,
            end_time=run.end_time,
            parent_run_id=run.parent_run_id,
            artifact_uri=run.artifact_uri,
            lifecycle_stage=str(run.lifecycle_stage),
            params=dict(run.params),
            tags=dict(run.tags),
            metrics={
                k: MetricSummaryOut.model_construct(
                    latest=m.latest,
                    latest_step=m.latest_step,
                    latest_timestamp=m.latest_timestamp,
                    min=m.min,
                    max=m.max,
                    count=m.count,
                )
                for k, m in run.metrics.items()
            },
        )


class RunPage(BaseModel):
    """A page of runs."""

    model_config = _FLOATS
    runs: list[RunOut]
    next_page_token: str | None = None


class SearchRunsRequest(BaseModel):
    """``POST /api/v1/runs/search`` (and ``/runs/export``)."""

    model_config = _FLOATS
    experiment_ids: list[str]
    filter: str = ""
    order_by: list[str] = Field(default_factory=list)
    max_results: int = 1000
    page_token: str | None = None
    view: View = "active"


class CacheEntry(BaseModel):
    """A pipeline cache entry (``payload`` is None when the key is absent)."""

    model_config = _FLOATS
    key: str
    payload: str | None = None
