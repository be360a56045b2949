"""Metric series: appending chunks with their summary, and reading whole series back.

A logged batch becomes one ``metric_chunks`` row per key (with a ``metric_sketches`` row
when it has at least :data:`~runyard.tracking.store.sql.sketch.BLOCK` points) plus one
upsert of that key's ``metric_summaries`` row; the upsert merges in SQL (latest by (step,
timestamp), min and max ignoring NaN, count), so concurrent writers on PostgreSQL never lose
an update. :func:`read_downsampled` answers chart reads from the sketches.
"""

from __future__ import annotations

import functools
import math
from array import array
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY

from runyard.entities import MetricSeries, MetricSummary
from runyard.tracking.store.sql.codec import (
    concat_float64,
    concat_int64,
)
from runyard.tracking.store.sql.schema import metric_chunks, metric_sketches, metric_summaries
from runyard.tracking.store.sql.sketch import (
    BLOCK,
    downsample_blocks,
    downsample_many,
    sketch_bytes,
    sketch_records,
)

__all__ = [
    "PointColumns",
    "append_columns",
    "append_points",
    "read_downsampled",
    "read_series",
    "summary_from_row",
]


class PointColumns(NamedTuple):
    """The validated points of one key, as columns in logging order.

    Attributes:
        steps: int64 steps.
        values: float64 values (NaN and ±inf allowed).
        stamps: int64 timestamps (ms).
    """

    steps: np.ndarray
    values: np.ndarray
    stamps: np.ndarray

    @classmethod
    def of(cls, points: Sequence[tuple[int, float, int]]) -> PointColumns:
        """Columns from ``(step, value, timestamp)`` tuples."""
        return cls(
            np.fromiter((p[0] for p in points), np.int64, len(points)),
            np.fromiter((p[1] for p in points), np.float64, len(points)),
            np.fromiter((p[2] for p in points), np.int64, len(points)),
        )


def _nan_to_none(x: float) -> float | None:
    return None if math.isnan(x) else x


def _none_to_nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def _columns_summary(cols: PointColumns) -> dict[str, Any]:
    steps, values, stamps = cols
    top = np.flatnonzero(steps == steps.max())
    best = int(top[np.flatnonzero(stamps[top] == stamps[top].max())[-1]])
    finite = values[~np.isnan(values)]
    return {
        "latest": _nan_to_none(float(values[best])),
        "latest_step": int(steps[best]),
        "latest_timestamp": int(stamps[best]),
        "min": float(finite.min()) if len(finite) else None,
        "max": float(finite.max()) if len(finite) else None,
        "count": len(values),
    }


@functools.cache
def _merge_summary_stmt(dialect: str) -> Any:
    """The summary upsert, built once per dialect and run with one parameter set per key."""
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

    return ins.on_conflict_do_update(
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


_INSERT_CHUNK_IDS = metric_chunks.insert().returning(
    metric_chunks.c.chunk_id, sort_by_parameter_order=True
)


def _le(a: np.ndarray, dtype: str) -> bytes:
    return bytes(np.ascontiguousarray(a, dtype=dtype).tobytes())


def append_points(
    conn: sa.Connection,
    run_id: str,
    experiment_id: int,
    by_key: dict[str, list[tuple[int, float, int]]],
) -> None:
    """Append validated points (``{key: [(step, value, ts)]}``) to their series."""
    append_columns(conn, run_id, experiment_id, {k: PointColumns.of(v) for k, v in by_key.items()})


def append_columns(
    conn: sa.Connection, run_id: str, experiment_id: int, by_key: Mapping[str, PointColumns]
) -> None:
    """Append validated points, a :class:`PointColumns` per key, to their series."""
    keys = [k for k in sorted(by_key) if len(by_key[k].values)]
    if not keys:
        return
    chunks = [
        {
            "run_id": run_id,
            "key": k,
            "n": len(by_key[k].values),
            "steps": _le(by_key[k].steps, "<i8"),
            "vals": _le(by_key[k].values, "<f8"),
            "timestamps": _le(by_key[k].stamps, "<i8"),
        }
        for k in keys
    ]
    sketched = [k for k in keys if len(by_key[k].values) >= BLOCK]
    if sketched:
        ids = conn.execute(_INSERT_CHUNK_IDS, chunks).scalars().all()
        conn.execute(
            metric_sketches.insert(),
            [
                {
                    "chunk_id": chunk_id,
                    "run_id": run_id,
                    "key": k,
                    "data": sketch_bytes(*by_key[k]),
                }
                for k, chunk_id in zip(keys, ids, strict=True)
                if len(by_key[k].values) >= BLOCK
            ],
        )
    else:
        conn.execute(metric_chunks.insert(), chunks)
    summaries = [
        {"run_id": run_id, "key": k, "experiment_id": experiment_id} | _columns_summary(by_key[k])
        for k in keys
    ]
    conn.execute(_merge_summary_stmt(conn.dialect.name), summaries)


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


def _run_in(conn: sa.Connection, column: Any, run_ids: Sequence[str]) -> Any:
    if len(run_ids) == 1:
        return column == run_ids[0]
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(run_ids), type_=ARRAY(sa.String)))
    return column.in_(list(run_ids))


def _by_chunk_id(
    conn: sa.Connection, table: Any, columns: Sequence[Any], ids: list[int]
) -> Iterator[Any]:
    """Rows of ``table`` with these chunk ids, 500 ids per query."""
    for i in range(0, len(ids), 500):
        part = ids[i : i + 500]
        yield from conn.execute(sa.select(*columns).where(table.c.chunk_id.in_(part)))


def read_downsampled(
    conn: sa.Connection, run_ids: Sequence[str], key: str, max_points: int
) -> list[MetricSeries]:
    """The series of ``key`` for each run, reduced to at most ``max_points`` points for a chart.

    A series of at most ``max_points`` points comes back whole. A longer one keeps, per bucket
    of consecutive points, its smallest and largest point, plus its first and last point (see
    :mod:`runyard.tracking.store.sql.sketch`); when a bucket spans at least two sketch blocks
    the answer is read from the chunks' sketches instead of their points, else (and for chunks
    that have no sketch) from the points themselves.
    """
    c = metric_chunks.c
    index: dict[str, list[tuple[int, int]]] = {r: [] for r in run_ids}
    query = (
        sa.select(c.run_id, c.chunk_id, c.n)
        .where(c.key == key, _run_in(conn, c.run_id, list(index)))
        .order_by(c.run_id, c.chunk_id)
    )
    for run_id, chunk_id, n in conn.execute(query):
        index[run_id].append((int(chunk_id), int(n)))
    buckets = max(1, (max_points - 2) // 2)
    coarse = {
        r
        for r, chunks in index.items()
        if (total := sum(n for _, n in chunks)) > max_points and -(-total // buckets) >= 2 * BLOCK
    }
    fine = [r for r in index if r not in coarse]
    reduced: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    out: dict[str, MetricSeries] = {}
    if fine:
        for series in read_series(conn, fine, key):
            if len(series) <= max_points:
                out[series.run_id] = series
                continue
            steps = np.frombuffer(series.steps, np.int64)
            values = np.frombuffer(series.values, np.float64)
            stamps = np.frombuffer(series.timestamps, np.int64)
            recs = sketch_records(steps, values, stamps, block=1)
            reduced[series.run_id] = downsample_blocks([(len(series), recs)], max_points, block=1)
    if coarse:
        ordered = [r for r in index if r in coarse]
        records = _sketches(conn, key, ordered, index)
        reduced_many = downsample_many(
            [[(n, records[chunk_id]) for chunk_id, n in index[r]] for r in ordered], max_points
        )
        reduced.update(zip(ordered, reduced_many, strict=True))
    for r, (steps, values, stamps) in reduced.items():
        out[r] = MetricSeries(
            r,
            key,
            array("q", steps.astype("<i8", copy=False).tobytes()),
            array("d", values.astype("<f8", copy=False).tobytes()),
            array("q", stamps.astype("<i8", copy=False).tobytes()),
        )
    return [out[r] for r in run_ids]


def _sketches(
    conn: sa.Connection, key: str, run_ids: list[str], index: dict[str, list[tuple[int, int]]]
) -> dict[int, bytes]:
    """The sketch records of every chunk of these runs' series (computed where none is stored)."""
    k = metric_sketches.c
    records: dict[int, bytes] = {}
    query = sa.select(k.chunk_id, k.data).where(k.key == key, _run_in(conn, k.run_id, run_ids))
    for chunk_id, data in conn.execute(query):
        records[int(chunk_id)] = bytes(data)
    missing = [cid for r in run_ids for cid, _ in index[r] if cid not in records]
    c = metric_chunks.c
    columns = (c.chunk_id, c.steps, c.vals, c.timestamps)
    for chunk_id, steps, vals, stamps in _by_chunk_id(conn, metric_chunks, columns, missing):
        records[int(chunk_id)] = sketch_bytes(
            np.frombuffer(steps, "<i8"), np.frombuffer(vals, "<f8"), np.frombuffer(stamps, "<i8")
        )
    return records


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
