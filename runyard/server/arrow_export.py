"""Arrow IPC encodings for bulk reads: runs as a wide table, metric series as a long one."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from runyard.entities import MetricSeries, Run

__all__ = ["runs_to_arrow", "series_to_arrow"]


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def runs_to_arrow(runs: Sequence[Run]) -> bytes:
    """A row per run; params and tags as string columns, metrics as their latest value."""
    columns: dict[str, list[object]] = {
        "run_id": [r.run_id for r in runs],
        "experiment_id": [r.experiment_id for r in runs],
        "name": [r.name for r in runs],
        "status": [str(r.status) for r in runs],
        "start_time": [r.start_time for r in runs],
        "end_time": [r.end_time for r in runs],
        "parent_run_id": [r.parent_run_id for r in runs],
        "artifact_uri": [r.artifact_uri for r in runs],
        "lifecycle_stage": [str(r.lifecycle_stage) for r in runs],
    }
    for prefix, attr in (("params", "params"), ("tags", "tags")):
        keys = sorted({k for r in runs for k in getattr(r, attr)})
        for k in keys:
            columns[f"{prefix}.{k}"] = [getattr(r, attr).get(k) for r in runs]
    for k in sorted({k for r in runs for k in r.metrics}):
        columns[f"metrics.{k}"] = [r.metrics[k].latest if k in r.metrics else None for r in runs]

    def kind(name: str) -> pa.DataType:
        if name in ("start_time", "end_time"):
            return pa.int64()
        return pa.float64() if name.startswith("metrics.") else pa.string()

    schema = pa.schema([pa.field(name, kind(name)) for name in columns])
    return _ipc(pa.table(columns, schema=schema))


def series_to_arrow(series: Sequence[MetricSeries]) -> bytes:
    """Long format: columns ``run_id`` (dictionary), ``step``, ``value``, ``timestamp``."""
    import numpy as np

    lengths = [len(s) for s in series]
    run_ids = pa.DictionaryArray.from_arrays(
        pa.array(np.repeat(np.arange(len(series), dtype=np.int32), lengths)),
        pa.array([s.run_id for s in series], pa.string()),
    )

    def column(name: str, dtype: str) -> pa.Array:
        parts = [np.frombuffer(getattr(s, name), dtype=dtype) for s in series if len(s)]
        return pa.array(np.concatenate(parts) if parts else np.empty(0, dtype=dtype))

    table = pa.table(
        {
            "run_id": run_ids,
            "step": column("steps", "int64"),
            "value": column("values", "float64"),
            "timestamp": column("timestamps", "int64"),
        }
    )
    return _ipc(table)
