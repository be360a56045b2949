"""Server-side downsampling of metric series for charts, in bounded memory.

A series longer than ``max_points`` keeps, for each of ``max_points // 2`` equal buckets of
consecutive points, the point with the smallest and the one with the largest value (so spikes
and dips survive), plus the first and last points, in logging order. NaN points are kept
only when a whole bucket is NaN.
"""

from __future__ import annotations

from array import array

import numpy as np

from runyard.entities import MetricSeries
from runyard.errors import InvalidArgument

__all__ = ["check_max_points", "downsample"]


def check_max_points(max_points: object) -> None:
    """Raise InvalidArgument unless ``max_points`` is an integer of at least 2."""
    if not isinstance(max_points, int) or max_points < 2:
        raise InvalidArgument(f"max_points must be an integer of at least 2, got {max_points!r}")


def downsample(series: MetricSeries, max_points: int) -> MetricSeries:
    """Return ``series`` reduced to at most ``max_points`` points (unchanged if shorter).

    Example:
        >>> from array import array
        >>> s = MetricSeries("r", "m", array("q", range(10)),
        ...                  array("d", [0, 5, 1, 1, 1, 1, 1, 1, -3, 1]), array("q", [0] * 10))
        >>> list(downsample(s, 6).steps)  # first, last, and each half's min and max
        [0, 1, 5, 8, 9]
    """
    n = len(series)
    if n <= max_points:
        return series
    values = np.frombuffer(series.values, dtype=np.float64)
    buckets = (max_points - 2) // 2
    if buckets < 1:  # room for the first and last points only
        ends = [0, n - 1]
        return MetricSeries(
            series.run_id,
            series.key,
            array("q", [series.steps[i] for i in ends]),
            array("d", [series.values[i] for i in ends]),
            array("q", [series.timestamps[i] for i in ends]),
        )
    size = -(-n // buckets)
    padded = np.full(buckets * size, np.nan)
    padded[:n] = values
    grid = padded.reshape(buckets, size)
    nan_rows = np.isnan(grid).all(axis=1)
    safe = np.where(nan_rows[:, None], 0.0, grid)
    lo = np.nanargmin(np.where(np.isnan(safe), np.inf, safe), axis=1)
    hi = np.nanargmax(np.where(np.isnan(safe), -np.inf, safe), axis=1)
    base = np.arange(buckets) * size
    keep = np.concatenate(([0, n - 1], base + lo, base + hi))
    keep = np.unique(keep[keep < n])
    steps = np.frombuffer(series.steps, dtype=np.int64)[keep]
    stamps = np.frombuffer(series.timestamps, dtype=np.int64)[keep]
    return MetricSeries(
        series.run_id,
        series.key,
        array("q", steps.tobytes()),
        array("d", values[keep].tobytes()),
        array("q", stamps.tobytes()),
    )
