"""Wire schemas: the JSON the runyard server speaks, shared by the server and the REST client.

These pydantic models are the contract of the native ``/api/v1`` REST API. They are separate
from :mod:`runyard.entities` (the frozen values stores return): the server converts entities
to wire models, the REST client converts them back. Non-finite floats travel as the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` so every body is standard JSON.

Example:
    >>> from runyard.wire import MetricColumns
    >>> MetricColumns(key=["acc"], value=[0.9], step=[1], timestamp=[0]).model_dump_json()
    '{"key":["acc"],"value":[0.9],"step":[1],"timestamp":[0]}'
"""

from runyard.wire.artifacts import ArtifactFile, ArtifactListing, ArtifactRefWire, LineageEdgeWire
from runyard.wire.errors import ErrorBody, ErrorCode, ErrorDetail
from runyard.wire.metrics import (
    HistoriesRequest,
    LogBatchRequest,
    MetricColumns,
    SeriesOut,
    SeriesPage,
)
from runyard.wire.tracking import (
    CacheEntry,
    CreateExperimentRequest,
    CreateRunRequest,
    ExperimentOut,
    ExperimentPage,
    MetricSummaryOut,
    RenameExperimentRequest,
    RunOut,
    RunPage,
    SearchRunsRequest,
    TagRequest,
    UpdateRunRequest,
)

__all__ = [
    "ArtifactFile",
    "ArtifactListing",
    "ArtifactRefWire",
    "CacheEntry",
    "CreateExperimentRequest",
    "CreateRunRequest",
    "ErrorBody",
    "ErrorCode",
    "ErrorDetail",
    "ExperimentOut",
    "ExperimentPage",
    "HistoriesRequest",
    "LineageEdgeWire",
    "LogBatchRequest",
    "MetricColumns",
    "MetricSummaryOut",
    "RenameExperimentRequest",
    "RunOut",
    "RunPage",
    "SearchRunsRequest",
    "SeriesOut",
    "SeriesPage",
    "TagRequest",
    "UpdateRunRequest",
]
