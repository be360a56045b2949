"""Metric histories of many runs as one columnar table (Arrow, pandas or polars)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from runyard.entities import MetricSeries
from runyard.errors import InvalidArgument

__all__ = ["HistoryFormat", "series_to_table"]

HistoryFormat = Literal["arrow", "pandas", "polars", "series"]


def series_to_table(series: Sequence[MetricSeries], fmt: HistoryFormat = "arrow") -> Any:
    """Concatenate series into columns ``run_id, key, step, value, timestamp``.

    Args:
        series: the series to join.
        fmt: ``arrow`` (a ``pyarrow.Table``), ``pandas``, ``polars`` or ``series``
            (the list as given).
    """
    if fmt == "series":
        return list(series)
    if fmt not in ("arrow", "pandas", "polars"):
        raise InvalidArgument(f"format must be arrow, pandas, polars or series, not {fmt!r}")
    import numpy as np
    import pyarrow as pa

    lengths = [len(s) for s in series]
    run_ids = pa.DictionaryArray.from_arrays(
        pa.array(np.repeat(np.arange(len(series), dtype=np.int32), lengths)),
        pa.array([s.run_id for s in series], pa.string()),
    )

    def column(name: str, dtype: Any) -> Any:
        parts = [np.frombuffer(getattr(s, name), dtype=dtype) for s in series]
        return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

    table = pa.table(
        {
            "run_id": run_ids,
            "key": pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(sum(lengths), dtype=np.int32)),
                pa.array([series[0].key if series else ""], pa.string()),
            ),
            "step": column("steps", np.int64),
            "value": column("values", np.float64),
            "timestamp": column("timestamps", np.int64),
        }
    )
    if fmt == "pandas":
        return table.to_pandas()
    if fmt == "polars":
        import polars as pl

        return pl.from_arrow(table)
    return table
