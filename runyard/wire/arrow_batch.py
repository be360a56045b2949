"""Metric batches as Arrow IPC: the columnar ingest body of ``POST /api/v1/runs/{id}/batch/arrow``.

The body (:data:`ARROW_STREAM`) is one or more record batches with
the columns ``key`` (string, or dictionary of strings), ``value`` (float64), ``step`` and
``timestamp`` (int64), no nulls, and the schema metadata entry ``runyard.batch`` holding a
JSON object ``{"params": {..}, "tags": {..}, "batch_id": ".."}`` (all optional).

Example:
    >>> import pyarrow as pa
    >>> body = arrow_body(["m", "m"], [1.0, 2.0], [0, 1], [5, 5], batch_id="b1")
    >>> cols, extra = parse_arrow(body)
    >>> cols["m"][0].tolist(), extra["batch_id"]
    ([0, 1], 'b1')
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from runyard.errors import InvalidArgument

__all__ = [
    "ARROW_STREAM",
    "BATCH_METADATA",
    "Columns",
    "arrow_body",
    "group_by_key",
    "parse_arrow",
]

ARROW_STREAM = "application/vnd.apache.arrow.stream"
BATCH_METADATA = b"runyard.batch"

Columns = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
"""``{key: (steps int64, values float64, timestamps int64)}`` in logging order."""

_TYPES = {"value": pa.float64(), "step": pa.int64(), "timestamp": pa.int64()}


def group_by_key(
    keys: Sequence[str], steps: np.ndarray, values: np.ndarray, stamps: np.ndarray
) -> Columns:
    """Split equally long columns by key, keeping logging order within each key."""
    if not len(keys):
        return {}
    if list(keys).count(keys[0]) == len(keys):  # the common case: one metric per batch
        return {keys[0]: (steps, values, stamps)}
    codes: dict[str, int] = {}
    index = np.fromiter((codes.setdefault(k, len(codes)) for k in keys), np.int64, len(keys))
    out: Columns = {}
    for key, code in codes.items():
        mask = index == code
        out[key] = (steps[mask], values[mask], stamps[mask])
    return out


def _extra(schema: pa.Schema) -> dict[str, Any]:
    raw = (schema.metadata or {}).get(BATCH_METADATA)
    if raw is None:
        return {"params": {}, "tags": {}, "batch_id": None}
    try:
        extra = json.loads(raw)
    except ValueError as e:
        raise InvalidArgument(f"the runyard.batch metadata is not JSON: {e}") from e
    if not isinstance(extra, dict):
        raise InvalidArgument("the runyard.batch metadata must be a JSON object")
    out: dict[str, Any] = {}
    for field in ("params", "tags"):
        value = extra.get(field) or {}
        if not isinstance(value, dict):
            raise InvalidArgument(f"runyard.batch {field!r} must be an object of strings")
        out[field] = value
    batch_id = extra.get("batch_id")
    if batch_id is not None and not isinstance(batch_id, str):
        raise InvalidArgument("runyard.batch 'batch_id' must be a string")
    out["batch_id"] = batch_id
    return out


def _column(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name not in table.column_names:
        raise InvalidArgument(f"the Arrow batch has no {name!r} column")
    col = table.column(name)
    if col.null_count:
        raise InvalidArgument(f"the Arrow column {name!r} has nulls")
    want = _TYPES.get(name)
    if want is not None and col.type != want:
        raise InvalidArgument(f"the Arrow column {name!r} must be {want}, not {col.type}")
    return col


def _keys(col: pa.ChunkedArray) -> list[str]:
    kind = col.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise InvalidArgument(f"the Arrow column 'key' must hold strings, not {col.type}")
    if pa.types.is_dictionary(col.type) and col.num_chunks == 1:
        chunk = col.chunk(0)
        names = chunk.dictionary.to_pylist()
        codes = chunk.indices.to_numpy(zero_copy_only=False)
        if len(names) == 1:
            return [names[0]] * len(codes)
        return [names[i] for i in codes.tolist()]
    return [str(k) for k in col.to_pylist()]


def parse_arrow(body: bytes) -> tuple[Columns, dict[str, Any]]:
    """Columns by key and ``{"params", "tags", "batch_id"}`` from an Arrow IPC stream body.

    Raises:
        InvalidArgument: the body is not an Arrow IPC stream of the shape described above.
    """
    try:
        table = pa.ipc.open_stream(pa.py_buffer(body)).read_all()
    except (pa.ArrowException, ValueError, OSError) as e:
        raise InvalidArgument(f"the body is not an Arrow IPC stream: {e}") from e
    extra = _extra(table.schema)
    if table.num_rows == 0:
        return {}, extra
    keys = _keys(_column(table, "key"))
    arrays = [_column(table, n).to_numpy() for n in ("step", "value", "timestamp")]
    steps, values, stamps = (np.ascontiguousarray(a) for a in arrays)
    return group_by_key(keys, steps, values, stamps), extra


def arrow_body(
    keys: Sequence[str],
    values: Any,
    steps: Any,
    stamps: Any,
    params: Mapping[str, str] | None = None,
    tags: Mapping[str, str] | None = None,
    batch_id: str | None = None,
) -> bytes:
    """Encode one batch as the Arrow IPC stream :func:`parse_arrow` reads (for clients)."""
    names = list(dict.fromkeys(keys))
    if len(names) == 1:
        codes = np.zeros(len(keys), np.int32)
    else:
        lookup = {k: i for i, k in enumerate(names)}
        codes = np.fromiter((lookup[k] for k in keys), np.int32, len(keys))
    key_col = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(names, pa.string()))
    meta = {"params": dict(params or {}), "tags": dict(tags or {}), "batch_id": batch_id}
    batch = pa.record_batch(
        [
            key_col,
            pa.array(np.asarray(values, np.float64)),
            pa.array(np.asarray(steps, np.int64)),
            pa.array(np.asarray(stamps, np.int64)),
        ],
        schema=pa.schema(
            [
                pa.field("key", key_col.type),
                pa.field("value", pa.float64()),
                pa.field("step", pa.int64()),
                pa.field("timestamp", pa.int64()),
            ],
            metadata={BATCH_METADATA: json.dumps(meta).encode()},
        ),
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())
