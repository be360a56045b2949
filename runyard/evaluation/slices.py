"""Slices: which subsets of the examples get their own metrics.

A slice column is either categorical (every distinct value is a slice) or a numeric column
cut into buckets by :func:`bucket`. Slices of up to ``crosses`` columns at once are crossed
("weather=rain & time_of_day=night"). Every slice value is mapped to a small integer code
from a dictionary fixed before the first batch is read, so shards agree on codes and their
states add up.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from runyard.errors import InvalidArgument

__all__ = ["OVERALL", "Bucket", "SliceColumn", "bucket", "families", "parse_slices"]

OVERALL = "overall"
MAX_CATEGORIES = 10_000


@dataclass(frozen=True, slots=True)
class Bucket:
    """A numeric slice column cut at ``edges`` (see :func:`bucket`).

    Attributes:
        column: the column.
        edges: strictly increasing cut points.
    """

    column: str
    edges: tuple[float, ...]

    def labels(self) -> tuple[str, ...]:
        """Display labels of the buckets: ``<e0``, ``[e0, e1)``, ..., ``>=en``."""
        e = [f"{x:g}" for x in self.edges]
        inner = [f"[{a}, {b})" for a, b in itertools.pairwise(e)]
        return (f"<{e[0]}", *inner, f">={e[-1]}")


def bucket(column: str, edges: Sequence[float]) -> Bucket:
    """Slice a numeric column into buckets.

    Values below the first edge form ``<e0``, values at or above the last form ``>=en``, and
    each pair of edges a half-open bucket ``[a, b)``. Missing values form ``null``.

    Args:
        column: the numeric column.
        edges: strictly increasing, finite cut points (at least one).

    Raises:
        InvalidArgument: no edges, or edges that are not finite and strictly increasing.

    Example:
        >>> from runyard.evaluation import bucket
        >>> bucket("distance", [0, 10, 50]).labels()
        ('<0', '[0, 10)', '[10, 50)', '>=50')
    """
    if not isinstance(column, str) or not column:
        raise InvalidArgument(f"bucket needs a column name, got {column!r}")
    try:
        values = tuple(float(x) for x in edges)
    except (TypeError, ValueError) as e:
        raise InvalidArgument(f"bucket edges of column {column!r} must be numbers") from e
    if not values:
        raise InvalidArgument(f"bucket of column {column!r} has no edges; give at least one")
    if not all(math.isfinite(v) for v in values) or any(
        b <= a for a, b in itertools.pairwise(values)
    ):
        raise InvalidArgument(
            f"bucket edges of column {column!r} must be finite and strictly increasing, "
            f"got {list(values)}"
        )
    return Bucket(column, values)


SliceSpec = str | Bucket | Mapping[str, Sequence[float]]


def parse_slices(slices: Iterable[SliceSpec] | SliceSpec | None) -> tuple[str | Bucket, ...]:
    """Normalise the ``slices=`` argument to column names and buckets.

    Accepts a list of column names, :class:`Bucket` objects, or ``{column: edges}`` dicts.

    Raises:
        InvalidArgument: an empty name, a malformed bucket, or a column named twice.
    """
    if slices is None:
        return ()
    if isinstance(slices, str | Bucket | Mapping):
        slices = [slices]
    out: list[str | Bucket] = []
    for spec in slices:
        if isinstance(spec, Mapping):
            out.extend(bucket(str(col), edges) for col, edges in spec.items())
        elif isinstance(spec, Bucket):
            out.append(spec)
        elif isinstance(spec, str) and spec.strip():
            out.append(spec.strip())
        else:
            raise InvalidArgument(f"a slice is a column name, a bucket or a dict; got {spec!r}")
    names = [s.column if isinstance(s, Bucket) else s for s in out]
    for name in names:
        if names.count(name) > 1:
            raise InvalidArgument(f"slice column {name!r} is named more than once")
    return tuple(out)


@dataclass(frozen=True, slots=True)
class SliceColumn:
    """A slice column with its value dictionary, ready to code batches.

    Attributes:
        column: the column name.
        kind: "category" or "bucket".
        labels: display label per code; the last code is ``null``.
        dictionary: the distinct non-null values (categories), in code order.
        edges: the bucket edges (buckets).
    """

    column: str
    kind: Literal["category", "bucket"]
    labels: tuple[str, ...]
    dictionary: pa.Array | None = None
    edges: tuple[float, ...] = ()

    @property
    def cardinality(self) -> int:
        """Number of codes, ``null`` included."""
        return len(self.labels)

    def codes(self, values: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.int64]:
        """Code of every value (``cardinality - 1`` for null)."""
        null_code = self.cardinality - 1
        if self.kind == "bucket":
            x = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
            with np.errstate(invalid="ignore"):
                codes = np.searchsorted(np.asarray(self.edges), x, side="right")
            return np.where(np.isnan(x), null_code, codes).astype(np.int64)
        idx = pc.index_in(values, value_set=self.dictionary)
        return np.asarray(pc.fill_null(idx, null_code).to_numpy(zero_copy_only=False), np.int64)


def category_column(name: str, distinct: pa.Array) -> SliceColumn:
    """A categorical slice column over the sorted distinct values seen in the data."""
    values = pc.unique(distinct.drop_null())
    if len(values) > MAX_CATEGORIES:
        raise InvalidArgument(
            f"slice column {name!r} has {len(values)} distinct values (limit {MAX_CATEGORIES}); "
            f"cut it into ranges with ry.bucket({name!r}, edges)"
        )
    values = pc.take(values, pc.sort_indices(values))
    return SliceColumn(name, "category", (*(_label(v) for v in values.to_pylist()), "null"), values)


def bucket_column(spec: Bucket) -> SliceColumn:
    """A bucketed slice column."""
    return SliceColumn(spec.column, "bucket", (*spec.labels(), "null"), None, spec.edges)


def _label(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def families(n_columns: int, crosses: int) -> tuple[tuple[int, ...], ...]:
    """Column-index tuples of every slice family: overall, singles, crosses up to ``crosses``."""
    out: list[tuple[int, ...]] = [()]
    for size in range(1, min(crosses, n_columns) + 1):
        out.extend(itertools.combinations(range(n_columns), size))
    return tuple(out)


def slice_label(
    columns: Sequence[SliceColumn], family: tuple[int, ...], codes: Sequence[int]
) -> str:
    """``overall`` or ``col=value & col2=value2``."""
    if not family:
        return OVERALL
    return " & ".join(
        f"{columns[c].column}={columns[c].labels[v]}" for c, v in zip(family, codes, strict=True)
    )
