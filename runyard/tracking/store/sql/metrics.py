"""Metric series: appending chunks with their summary, and reading whole series back.

A logged batch becomes one ``metric_chunks`` row per key plus one upsert of that key's
``metric_summaries`` row; the upsert merges in SQL (latest by (step, timestamp), min and max
ignoring NaN, count), so concurrent writers on PostgreSQL never lose an update.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from runyard.entities import MetricSeries, MetricSummary
from runyard.tracking.store.sql.codec import (
    concat_float64,
    concat_int64,
    pack_float64,
    pack_int64,
)
from runyard.tracking.store.sql.schema import metric_chunks, metric_summaries

__all__ = ["append_points", "read_series", "summary_from_row"]


def _nan_to_none(x: float) -> float | None:
    return None if math.isnan(x) else x


def _none_to_nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _batch_summary(points: Sequence[tuple[int, float, int]]) -> dict[str, Any]:
    best = points[0]
    lo = hi = math.nan
    for p in points:
        if (p[0], p[2]) >= (best[0], best[2]):
            best = p
        v = p[1]
        if not math.isnan(v):
            lo = v if math.isnan(lo) or v < lo else lo
            hi = v if math.isnan(hi) or v > hi else hi
    return {
        "latest": _nan_to_none(best[1]),
        "latest_step": best[0],
        "latest_timestamp": best[2],
        "min": _nan_to_none(lo),
        "max": _nan_to_none(hi),
        "count": len(points),
    }


def _merge_summary_stmt(dialect: str, rows: list[dict[str, Any]]) -> Any:
    ins: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(metric_summaries)
    new, cur = ins.excluded, metric_summaries.c
    least = sa.func.least if dialect == "postgresql" else sa.func.min
    greatest = sa.func.greatest if dialect == "postgresql" else sa.func.max
    newer = sa.or_(
        new.latest_step > cur.latest_step,
        sa.and_(new.latest_step == cur.latest_step, new.latest_timestamp >= cur.latest_timestamp),
    )

    def pick(col: str) -> Any:
        return sa.case((newer, getattr(new, col)), else_=getattr(cur, col))

    def merge(col: str, fn: Any) -> Any:
        a, b = getattr(cur, col), getattr(new, col)
        return sa.case((a.is_(None), b), (b.is_(None), a), else_=fn(a, b))

    return ins.values(rows).on_conflict_do_update(
        index_elements=[cur.run_id, cur.key],
        set_={
            "latest": pick("latest"),
            "latest_step": pick("latest_step"),
            "latest_timestamp": pick("latest_timestamp"),
            "min": merge("min", least),
            "max": merge("max", greatest),
            "count": cur.count + new.count,
        },
    )


def append_points(
    conn: sa.Connection,
    run_id: str,
    experiment_id: int,
    by_key: dict[str, list[tuple[int, float, int]]],
) -> None:
    """Append validated points (``{key: [(step, value, ts)]}``) to their series."""
    if not by_key:
        return
    chunks = []
    summaries = []
    for key in sorted(by_key):
        points = by_key[key]
        chunks.append(
            {
                "run_id": run_id,
                "key": key,
                "n": len(points),
                "steps": pack_int64(array("q", [p[0] for p in points])),
                "vals": pack_float64(array("d", [p[1] for p in points])),
                "timestamps": pack_int64(array("q", [p[2] for p in points])),
            }
        )
        summaries.append(
            {"run_id": run_id, "key": key, "experiment_id": experiment_id} | _batch_summary(points)
        )
    conn.execute(metric_chunks.insert(), chunks)
    conn.execute(_merge_summary_stmt(conn.dialect.name, summaries))


def read_series(conn: sa.Connection, run_ids: Sequence[str], key: str) -> list[MetricSeries]:
    """The whole series of ``key`` for each run, in the order of ``run_ids``, one query."""
    c = metric_chunks.c
    parts: dict[str, tuple[list[bytes], list[bytes], list[bytes]]] = {
        r: ([], [], []) for r in run_ids
    }
    query = (
        sa.select(c.run_id, c.steps, c.vals, c.timestamps)
        .where(c.key == key)
        .order_by(c.run_id, c.chunk_id)
    )
    query = (
        query.where(c.run_id == run_ids[0])
        if len(parts) == 1
        else query.where(c.run_id.in_(list(parts)))
    )
    for run_id, steps, vals, timestamps in conn.execute(query):
        s, v, t = parts[run_id]
        s.append(steps)
        v.append(vals)
        t.append(timestamps)
    return [
        MetricSeries(
            run_id=r,
            key=key,
            steps=concat_int64(parts[r][0]),
            values=concat_float64(parts[r][1]),
            timestamps=concat_int64(parts[r][2]),
        )
        for r in run_ids
    ]


def summary_from_row(row: Any) -> MetricSummary:
    """A :class:`MetricSummary` from a ``metric_summaries`` row (NULL floats are NaN)."""
    return MetricSummary(
        key=row.key,
        latest=_none_to_nan(row.latest),
        latest_step=int(row.latest_step),
        latest_timestamp=int(row.latest_timestamp),
        min=_none_to_nan(row.min),
        max=_none_to_nan(row.max),
        count=int(row.count),
    )
