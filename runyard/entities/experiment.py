"""Experiments: named groups of runs."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


class LifecycleStage(enum.StrEnum):
    """Whether an experiment or run is live or soft-deleted."""

    ACTIVE = "active"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Experiment:
    """A named group of runs.

    Attributes:
        experiment_id: store-assigned id (a string of digits on SQL stores).
        name: unique among experiments of the store.
        artifact_location: where the runs of this experiment keep artifacts by default.
        lifecycle_stage: active or deleted.
        creation_time: milliseconds since the epoch.
        tags: free-form string tags.
    """

    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: LifecycleStage
    creation_time: int
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
