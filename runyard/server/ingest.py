"""The ingest fast path: metric points as columns from the request body to the store.

Points never become :class:`~runyard.entities.Metric` objects on the way when the store
can take columns (``log_columns``, as the SQL store does); other stores get ``log_batch``.
"""

from __future__ import annotations

from collections.abc import Mapping

from runyard.entities import Metric
from runyard.tracking.store.base import TrackingStore
from runyard.wire.arrow_batch import Columns

__all__ = ["log_columns"]


def log_columns(
    store: TrackingStore,
    run_id: str,
    columns: Columns,
    params: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
    batch_id: str | None = None,
) -> int:
    """Write one batch through the store's column path when it has one; return the points."""
    points = sum(len(v) for _, v, _ in columns.values())
    fast = getattr(store, "log_columns", None)
    if fast is not None:
        fast(run_id, columns, params, tags, batch_id)
        return points
    metrics = [
        Metric(key, v, s, t)
        for key, (steps, values, stamps) in columns.items()
        for s, v, t in zip(steps.tolist(), values.tolist(), stamps.tolist(), strict=True)
    ]
    store.log_batch(run_id, metrics, params, tags, batch_id)
    return points
