"""runyard: an ML experimentation platform in one install.

Tracking, pipelines, training, sweeps, evaluation, registry and serving.

Example:
    >>> import runyard as ry
    >>> with ry.start_run(experiment="digits", params={"lr": 0.1}) as run:  # doctest: +SKIP
    ...     run.log_metrics({"loss": 0.3, "acc": 0.91}, step=1)
"""

from runyard.entities import (
    ArtifactRef,
    Experiment,
    LineageEdge,
    Metric,
    MetricSeries,
    MetricSummary,
    Page,
    RunStatus,
)
from runyard.errors import (
    AlreadyExists,
    InvalidArgument,
    InvalidFilter,
    NotFound,
    ParamConflict,
    RunyardError,
    StoreError,
    UnsafePath,
)
from runyard.tracking.client import Client, Run, active_run, start_run

__version__ = "0.1.0"

__all__ = [
    "AlreadyExists",
    "ArtifactRef",
    "Client",
    "Experiment",
    "InvalidArgument",
    "InvalidFilter",
    "LineageEdge",
    "Metric",
    "MetricSeries",
    "MetricSummary",
    "NotFound",
    "Page",
    "ParamConflict",
    "Run",
    "RunStatus",
    "RunyardError",
    "StoreError",
    "UnsafePath",
    "__version__",
    "active_run",
    "start_run",
]
