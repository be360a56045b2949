"""Metric points, whole series (columnar) and per-key summaries."""

from __future__ import annotations

from array import array
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric point.

    Attributes:
        key: the metric name.
        value: any float, NaN and ±inf included (stored faithfully).
        step: an integer step (finite by construction).
        timestamp: milliseconds since the epoch.
    """

    key: str
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class MetricSummary:
    """The summary a store keeps per (run, key) for search and sort.

    Attributes:
        key: the metric name.
        latest: the value at the largest (step, timestamp).
        latest_step: the step of ``latest``.
        latest_timestamp: the timestamp of ``latest``.
        min: the smallest non-NaN value (NaN when every value is NaN).
        max: the largest non-NaN value (NaN when every value is NaN).
        count: the number of points logged.
    """

    key: str
    latest: float
    latest_step: int
    latest_timestamp: int
    min: float
    max: float
    count: int


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """A whole metric series of one run, columnar, in logging order.

    The arrays are owned by this value: treat them as read-only.

    Attributes:
        run_id: the run.
        key: the metric name.
        steps: ``array('q')`` of steps.
        values: ``array('d')`` of values.
        timestamps: ``array('q')`` of milliseconds since the epoch.
    """

    run_id: str
    key: str
    steps: array[int]
    values: array[float]
    timestamps: array[int]

    def __len__(self) -> int:
        return len(self.values)

    def points(self) -> list[Metric]:
        """The series as a list of :class:`Metric` (slow for long series)."""
        return [
            Metric(self.key, v, s, t)
            for s, v, t in zip(self.steps, self.values, self.timestamps, strict=True)
        ]
