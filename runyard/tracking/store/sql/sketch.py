"""Chart sketches of metric chunks, so a downsampled read never decodes every point.

A chunk's points are cut into blocks of :data:`BLOCK` consecutive points. Its sketch keeps,
for each block, the point with the smallest and the one with the largest value (NaN ranks
after every number, so a block keeps a NaN only when it is all NaN), plus the chunk's first
and last points: ``2 + 2 * ceil(n / BLOCK)`` records of (position in chunk, step, value,
timestamp). Sketches are written with their chunk (``metric_sketches``) for chunks of at
least ``BLOCK`` points; a reader computes the same sketch on the fly for any other chunk.

:func:`downsample_blocks` reduces a series' block records to chart buckets: bucket ``i``
holds the blocks that start at a point index in ``[i * size, (i + 1) * size)`` and keeps
their smallest and largest point. With one point per block this is exactly
:func:`~runyard.tracking.store.downsample.downsample`'s rule; with ``BLOCK`` points per block
the bucket edges snap to block edges, and the extremes kept are still the true extremes of
each bucket.

Example:
    >>> import numpy as np
    >>> recs = sketch_records(np.arange(128), np.arange(128.0), np.zeros(128, np.int64))
    >>> recs["pos"].tolist()
    [0, 127, 0, 63, 64, 127]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "BLOCK",
    "RECORD",
    "downsample_blocks",
    "downsample_many",
    "sketch_bytes",
    "sketch_records",
]

BLOCK = 64
"""Points per sketch block."""

Sketch = bytes | np.ndarray
"""A chunk's sketch: the stored bytes, or :func:`sketch_records`' array."""

RECORD = np.dtype([("pos", "<i8"), ("step", "<i8"), ("value", "<f8"), ("ts", "<i8")])
"""One kept point: its position in the chunk, step, value and timestamp."""


def sketch_records(
    steps: np.ndarray, values: np.ndarray, stamps: np.ndarray, block: int = BLOCK
) -> np.ndarray:
    """The sketch of one chunk as :data:`RECORD` records: first, last, then (min, max) per block.

    Args:
        steps: int64 steps of the chunk's points.
        values: float64 values.
        stamps: int64 timestamps.
        block: points per block (1 keeps every point twice; tests use small blocks).
    """
    n = len(values)
    if n == 0:
        return np.empty(0, RECORD)
    blocks = -(-n // block)
    flat = np.full(blocks * block, np.nan)
    flat[:n] = values
    grid = flat.reshape(blocks, block)
    nan = np.isnan(grid)
    lo = np.where(nan, np.inf, grid).argmin(axis=1)
    hi = np.where(nan, -np.inf, grid).argmax(axis=1)
    base = np.arange(blocks, dtype=np.int64) * block
    pos = np.empty(2 + 2 * blocks, np.int64)
    pos[0], pos[1] = 0, n - 1
    pos[2::2] = np.minimum(base + lo, n - 1)
    pos[3::2] = np.minimum(base + hi, n - 1)
    out = np.empty(len(pos), RECORD)
    out["pos"] = pos
    out["step"] = steps[pos]
    out["value"] = values[pos]
    out["ts"] = stamps[pos]
    return out


def sketch_bytes(steps: np.ndarray, values: np.ndarray, stamps: np.ndarray) -> bytes:
    """:func:`sketch_records` packed little-endian, as stored in ``metric_sketches.data``."""
    return sketch_records(steps, values, stamps).tobytes()


def downsample_blocks(
    chunks: Sequence[tuple[int, Sketch]], max_points: int, block: int = BLOCK
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reduce one series' chunk sketches to at most ``max_points`` points in logging order.

    Args:
        chunks: ``(n, sketch)`` per chunk in logging order: its point count and its
            :func:`sketch_records` (or their bytes) made with the same ``block``.
        max_points: the most points to return (at least 2).
        block: the block size the sketches were made with.

    Returns:
        ``(steps, values, timestamps)`` arrays.
    """
    return downsample_many([chunks], max_points, block)[0]


def downsample_many(
    series: Sequence[Sequence[tuple[int, Sketch]]], max_points: int, block: int = BLOCK
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`downsample_blocks` for many series at once (one vectorised pass over all)."""
    if not series:
        return []
    n_chunks = [len(chunks) for chunks in series]
    points = np.array([n for chunks in series for n, _ in chunks], np.int64)
    raw = [
        rec if isinstance(rec, bytes) else rec.tobytes() for chunks in series for _, rec in chunks
    ]
    data = b"".join(raw)
    cols = np.frombuffer(data, np.int64).reshape(-1, 4)  # pos, step, value bits, timestamp
    values = np.frombuffer(data, np.float64).reshape(-1, 4)[:, 2]
    counts = np.array([len(rec) // RECORD.itemsize for rec in raw], np.int64)
    chunk_series = np.repeat(np.arange(len(series)), n_chunks)
    series_first = (np.cumsum(n_chunks) - n_chunks).astype(np.intp)
    offsets = np.cumsum(points) - points
    offsets -= np.repeat(offsets[series_first], n_chunks)  # point offset within its series
    totals = np.add.reduceat(points, series_first)
    heads = np.cumsum(counts) - counts
    buckets = (max_points - 2) // 2
    last_rows = heads[series_first + np.array(n_chunks) - 1] + 1
    kept = [heads[series_first], last_rows]  # every series' first and last points
    rec_series = np.repeat(chunk_series, counts)
    pos = cols[:, 0] + np.repeat(offsets, counts)
    if buckets >= 1:
        body = np.ones(len(cols), bool)
        body[heads] = body[heads + 1] = False
        lo_rows = np.flatnonzero(body)[0::2]
        hi_rows = lo_rows + 1
        start = pos[lo_rows] - cols[lo_rows, 0] + (cols[lo_rows, 0] // block) * block
        sizes = -(-totals // buckets)
        owner = rec_series[lo_rows]
        bucket = owner * (buckets + 1) + start // sizes[owner]
        firsts = np.concatenate(([0], np.flatnonzero(np.diff(bucket)) + 1)).astype(np.intp)
        widths = np.diff(np.append(firsts, len(bucket)))
        for rows, key in (
            (lo_rows, np.where(np.isnan(values[lo_rows]), np.inf, values[lo_rows])),
            (hi_rows, np.where(np.isnan(values[hi_rows]), np.inf, -values[hi_rows])),
        ):
            best = np.minimum.reduceat(key, firsts)
            hits = np.flatnonzero(key == np.repeat(best, widths))
            kept.append(rows[hits[np.searchsorted(hits, firsts)]])  # first best per bucket
    rows = np.concatenate(kept)
    rows = rows[np.lexsort((pos[rows], rec_series[rows]))]
    same = (np.diff(pos[rows]) == 0) & (np.diff(rec_series[rows]) == 0)
    rows = rows[np.concatenate(([True], ~same))]
    bounds = np.searchsorted(rec_series[rows], np.arange(len(series) + 1))
    return [
        (cols[r, 1].copy(), values[r].copy(), cols[r, 3].copy())
        for r in (rows[bounds[i] : bounds[i + 1]] for i in range(len(series)))
    ]
