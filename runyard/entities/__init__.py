"""Frozen values that cross layers: what stores return and clients hand around.

Every entity is a ``@dataclass(frozen=True, slots=True)``; a value returned by a store never
changes afterwards. Wire schemas (the JSON the server speaks) live apart in ``runyard.wire``.
"""

from runyard.entities.artifact import ArtifactRef
from runyard.entities.experiment import Experiment, LifecycleStage
from runyard.entities.lineage import LineageEdge, NodeKind
from runyard.entities.metric import Metric, MetricSeries, MetricSummary
from runyard.entities.page import Page
from runyard.entities.registry import ApiToken, ModelVersion, RegisteredModel
from runyard.entities.run import Run, RunStatus

__all__ = [
    "ApiToken",
    "ArtifactRef",
    "Experiment",
    "LifecycleStage",
    "LineageEdge",
    "Metric",
    "MetricSeries",
    "MetricSummary",
    "ModelVersion",
    "NodeKind",
    "Page",
    "RegisteredModel",
    "Run",
    "RunStatus",
]
