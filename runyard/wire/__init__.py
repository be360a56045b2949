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

from runyard.wire.artifacts import (
    ArtifactDeleted,
    ArtifactFile,
    ArtifactListing,
    ArtifactMoveRequest,
    ArtifactRefWire,
    LineageEdgeWire,
)
from runyard.wire.errors import ErrorBody, ErrorCode, ErrorDetail
from runyard.wire.metrics import (
    HistoriesRequest,
    LogBatchRequest,
    MetricColumns,
    SeriesOut,
    SeriesPage,
)
from runyard.wire.registry import (
    AliasRequest,
    ApiTokenOut,
    CreateModelVersionRequest,
    CreateRegisteredModelRequest,
    CreateTokenRequest,
    ModelVersionOut,
    ModelVersionPage,
    RegisteredModelOut,
    RegisteredModelPage,
    UpdateModelVersionRequest,
    UpdateRegisteredModelRequest,
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
    "AliasRequest",
    "ApiTokenOut",
    "ArtifactDeleted",
    "ArtifactFile",
    "ArtifactListing",
    "ArtifactMoveRequest",
    "ArtifactRefWire",
    "CacheEntry",
    "CreateExperimentRequest",
    "CreateModelVersionRequest",
    "CreateRegisteredModelRequest",
    "CreateRunRequest",
    "CreateTokenRequest",
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
    "ModelVersionOut",
    "ModelVersionPage",
    "RegisteredModelOut",
    "RegisteredModelPage",
    "RenameExperimentRequest",
    "RunOut",
    "RunPage",
    "SearchRunsRequest",
    "SeriesOut",
    "SeriesPage",
    "TagRequest",
    "UpdateModelVersionRequest",
    "UpdateRegisteredModelRequest",
    "UpdateRunRequest",
]
