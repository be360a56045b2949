"""Runs: one execution of user code with its params, metrics, tags and artifacts."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from runyard.entities.experiment import LifecycleStage
from runyard.entities.metric import MetricSummary


class RunStatus(enum.StrEnum):
    """The state of a run. Every state but RUNNING is terminal."""

    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        """True for FINISHED, FAILED and KILLED."""
        return self is not RunStatus.RUNNING


@dataclass(frozen=True, slots=True)
class Run:
    """A tracked run.

    Attributes:
        run_id: 32 hex characters.
        experiment_id: the experiment the run belongs to.
        name: a human-readable name (not unique).
        status: RUNNING until ended.
        start_time: milliseconds since the epoch.
        end_time: milliseconds since the epoch, None while running.
        parent_run_id: the run this one is nested under (pipeline → step, sweep → trial).
        artifact_uri: where this run's artifacts live.
        lifecycle_stage: active or deleted.
        params: immutable once set; values are strings.
        tags: mutable string tags.
        metrics: the latest/min/max summary of each metric key.
    """

    run_id: str
    experiment_id: str
    name: str
    status: RunStatus
    start_time: int
    end_time: int | None
    parent_run_id: str | None
    artifact_uri: str
    lifecycle_stage: LifecycleStage = LifecycleStage.ACTIVE
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    metrics: Mapping[str, MetricSummary] = field(default_factory=lambda: MappingProxyType({}))
