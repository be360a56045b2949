"""Failure mining: the worst slices and the most confident errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from runyard.errors import InvalidArgument
from runyard.evaluation.slices import OVERALL, Bucket

if TYPE_CHECKING:
    from runyard.evaluation.result import EvalResult

__all__ = ["failures", "worst_slices"]


def worst_slices(result: EvalResult, metric: str, k: int, include_small: bool) -> pa.Table:
    """See :meth:`EvalResult.worst_slices`."""
    if metric not in result.metrics:
        raise InvalidArgument(
            f"metric {metric!r} was not computed; metrics: {list(result.metrics)}"
        )
    t = result.table
    mask = pc.and_(pc.equal(t.column("metric"), metric), pc.not_equal(t.column("slice"), OVERALL))
    if not include_small:
        mask = pc.and_(mask, pc.invert(t.column("small")))
    rows = t.filter(mask)
    overall = result.value(metric)
    value = rows.column("value").to_numpy(zero_copy_only=False)
    n = rows.column("n").to_numpy(zero_copy_only=False)
    sign = 1.0 if result.config.greater_is_better[metric] else -1.0
    gap = sign * (overall - value)
    score = gap * np.sqrt(n / max(result.config.num_rows, 1))
    order = np.lexsort((rows.column("slice").to_pylist(), -np.nan_to_num(score, nan=-np.inf)))[:k]
    return pa.table(
        {
            "slice": rows.column("slice").take(order),
            "metric": rows.column("metric").take(order),
            "value": pa.array(value[order]),
            "overall": pa.array(np.full(len(order), overall)),
            "gap": pa.array(gap[order]),
            "n": pa.array(n[order]),
            "score": pa.array(score[order]),
            "ci_low": rows.column("ci_low").take(order),
            "ci_high": rows.column("ci_high").take(order),
        }
    )


def failures(result: EvalResult, k: int, where: str | Mapping[str, Any] | None) -> pa.Table:
    """See :meth:`EvalResult.failures`."""
    t = result.failure_table
    if t is None:
        return pa.table({})
    if where is not None:
        wanted = (
            _parse_label(where) if isinstance(where, str) else {c: str(v) for c, v in where.items()}
        )
        specs = dict(result.config.slices)
        for col, label in wanted.items():
            if col not in specs:
                raise InvalidArgument(
                    f"{col!r} is not a slice column; slice columns: {list(specs)}"
                )
            t = t.filter(pc.equal(_labels(t.column(col), specs[col]), label))
    name = "abs_error" if result.config.task == "regression" else "confidence"
    t = t.drop_columns(["_hash"]).rename_columns(
        [name if c == "_badness" else c for c in t.drop_columns(["_hash"]).column_names]
    )
    return t.slice(0, k)


def _parse_label(label: str) -> dict[str, str]:
    if label == OVERALL:
        return {}
    out = {}
    for part in label.split(" & "):
        col, sep, value = part.partition("=")
        if not sep:
            raise InvalidArgument(f"a slice is 'column=value & ...', got {label!r}")
        out[col.strip()] = value.strip()
    return out


def _labels(values: pa.ChunkedArray, edges: tuple[float, ...] | None) -> pa.Array:
    if edges is None:
        py = values.to_pylist()
        return pa.array([f"{v:g}" if isinstance(v, float) else str(v) for v in py])
    labels = np.array([*Bucket("", edges).labels(), "null"])
    x = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    codes = np.searchsorted(np.asarray(edges), x, side="right")
    return pa.array(labels[np.where(np.isnan(x), len(labels) - 1, codes)])
