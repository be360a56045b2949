"""``compare``: model A vs model B on the same examples, slice by slice, paired.

Both results must come from the same examples (same ids), the same seed and the same number
of replicates: then replicate ``r`` of A and replicate ``r`` of B were computed on the very
same resample (the weights are a function of seed, id and replicate), so ``B_r - A_r`` is a
paired bootstrap replicate of the difference. The p-value of a difference is the two-sided
share of centred replicates at least as far from zero as the observed difference; q-values
apply Benjamini-Hochberg over all slices of each metric (slices flagged ``small`` are
reported but not tested).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from runyard.errors import InvalidArgument, NotFound
from runyard.evaluation.bootstrap import percentile_interval
from runyard.evaluation.result import EvalConfig, EvalResult
from runyard.evaluation.slices import OVERALL

__all__ = ["Comparison", "benjamini_hochberg", "compare"]


@dataclass(frozen=True, eq=False)
class Comparison:
    """A paired comparison of two evaluations; immutable.

    ``to_pandas()`` has one row per slice and metric with ``slice``, ``metric``, ``a``, ``b``,
    ``delta`` (b - a), ``ci_low``, ``ci_high`` (of the delta), ``p_value``, ``q_value``,
    ``significant``, ``direction`` (``regression``, ``improvement`` or empty) and ``n``;
    significant regressions first, then significant improvements, then the rest.
    """

    a: EvalConfig
    b: EvalConfig
    table: pa.Table
    alpha: float
    _index: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        s = self.table.column("slice").to_pylist()
        m = self.table.column("metric").to_pylist()
        self._index.update({(x, y): i for i, (x, y) in enumerate(zip(s, m, strict=True))})

    def to_arrow(self) -> pa.Table:
        """The comparison table as Arrow."""
        return self.table

    def to_pandas(self) -> Any:
        """The comparison table as a pandas DataFrame."""
        return self.table.to_pandas()

    def to_polars(self) -> Any:
        """The comparison table as a polars DataFrame."""
        import polars as pl

        return pl.from_arrow(self.table)

    @property
    def metrics(self) -> tuple[str, ...]:
        """Metrics present in both results."""
        return tuple(m for m in self.b.metrics if m in self.a.metrics)

    def get(self, column: str, metric: str, slice: str = OVERALL) -> Any:
        """One cell: ``column`` of the (slice, metric) row.

        Raises:
            NotFound: no such row.
        """
        try:
            i = self._index[(slice, metric)]
        except KeyError:
            raise NotFound(f"no row for metric {metric!r} on slice {slice!r}") from None
        return self.table.column(column)[i].as_py()

    def regressions(self) -> pa.Table:
        """Rows that are significant regressions."""
        return self.table.filter(pa.compute.equal(self.table.column("direction"), "regression"))

    def __repr__(self) -> str:
        reg = int(np.sum(np.asarray(self.table.column("direction").to_pylist()) == "regression"))
        return f"Comparison(rows={self.table.num_rows}, significant_regressions={reg})"


def benjamini_hochberg(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Benjamini-Hochberg adjusted p-values (q-values), NaN kept as NaN."""
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if not len(ok):
        return q
    order = ok[np.argsort(p[ok])]
    m = len(order)
    ranked = p[order] * m / np.arange(1, m + 1)
    q[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    return q


def _check_pairable(a: EvalResult, b: EvalResult) -> None:
    ca, cb = a.config, b.config
    what = f"column {ca.id_column!r}" if ca.id_column else "row position (no id column)"
    if ca.fingerprint != cb.fingerprint:
        raise InvalidArgument(
            f"A and B were evaluated on different examples (ids from {what}): A has "
            f"{ca.num_rows} ids, B has {cb.num_rows}, and the sets differ; compare needs "
            "predictions of both models on the same examples"
        )
    if ca.id_column != cb.id_column:
        raise InvalidArgument(
            f"A identifies examples by {ca.id_column!r} and B by {cb.id_column!r}; "
            "use one id column"
        )
    if (ca.bootstrap, ca.seed) != (cb.bootstrap, cb.seed):
        raise InvalidArgument(
            f"paired comparison needs the same bootstrap and seed: A has bootstrap={ca.bootstrap}, "
            f"seed={ca.seed}; B has bootstrap={cb.bootstrap}, seed={cb.seed}"
        )
    if ca.bootstrap == 0:
        raise InvalidArgument("compare needs bootstrap replicates; evaluate with bootstrap > 0")


def compare(a: EvalResult, b: EvalResult, *, alpha: float = 0.05) -> Comparison:
    """Compare B (candidate) against A (baseline), paired on example ids, per slice.

    Args:
        a: the baseline result.
        b: the candidate result.
        alpha: false discovery rate for ``significant``.

    Returns:
        The :class:`Comparison`.

    Raises:
        InvalidArgument: different example ids, seeds or replicate counts, or a slice whose
            size differs between A and B (its slice column differs per example).

    Example:
        >>> import runyard as ry
        >>> cmp = ry.compare(res_a, res_b)  # doctest: +SKIP
        >>> cmp.to_pandas().head()  # doctest: +SKIP
    """
    _check_pairable(a, b)
    rows_a, rows_b = [], []
    for key, i in b._index.items():
        j = a._index.get(key)
        if j is not None:
            rows_a.append(j)
            rows_b.append(i)
    ia, ib = np.asarray(rows_a, dtype=np.int64), np.asarray(rows_b, dtype=np.int64)
    na = a.table.column("n").to_numpy()[ia]
    nb = b.table.column("n").to_numpy()[ib]
    slices = b.table.column("slice").take(pa.array(ib)).to_pylist()
    metrics = b.table.column("metric").take(pa.array(ib)).to_pylist()
    bad = np.flatnonzero(na != nb)
    if len(bad):
        k = bad[0]
        raise InvalidArgument(
            f"slice {slices[k]!r} has {na[k]} examples in A and {nb[k]} in B; the slice columns "
            "must hold the same values for each example in both"
        )
    va = a.table.column("value").to_numpy()[ia]
    vb = b.table.column("value").to_numpy()[ib]
    delta = vb - va
    reps = b.replicates[ib] - a.replicates[ia]
    low, high = percentile_interval(reps, b.config.confidence)
    p = _p_values(delta, reps)
    small = nb < b.config.min_size
    q = np.full(len(p), np.nan)
    for m in set(metrics):
        idx = np.flatnonzero((np.asarray(metrics) == m) & ~small)
        q[idx] = benjamini_hochberg(p[idx])
    significant = np.nan_to_num(q, nan=1.0) <= alpha
    better = np.array([b.config.greater_is_better[m] for m in metrics], dtype=bool)
    worse = np.where(better, delta < 0, delta > 0)
    direction = np.where(significant, np.where(worse, "regression", "improvement"), "")
    rank = np.where(direction == "regression", 0, np.where(direction == "improvement", 1, 2))
    order = np.lexsort((-np.nan_to_num(np.abs(delta)), np.nan_to_num(q, nan=2.0), rank))
    table = pa.table(
        {
            "slice": pa.array(slices, pa.string()),
            "metric": pa.array(metrics, pa.string()),
            "a": va,
            "b": vb,
            "delta": delta,
            "ci_low": low,
            "ci_high": high,
            "p_value": p,
            "q_value": q,
            "significant": significant,
            "direction": pa.array(direction.tolist(), pa.string()),
            "n": pa.array(nb, pa.int64()),
        }
    ).take(pa.array(order))
    return Comparison(a.config, b.config, table, alpha)


def _p_values(
    delta: npt.NDArray[np.float64], reps: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Two-sided bootstrap p-values: share of centred replicates at least as extreme."""
    finite = np.isfinite(reps)
    count = finite.sum(axis=1)
    with np.errstate(invalid="ignore"):
        centred = np.abs(np.where(finite, reps, np.nan) - delta[:, None])
        extreme = (np.nan_to_num(centred, nan=-1.0) >= np.abs(delta)[:, None]) & finite
    p = (1.0 + extreme.sum(axis=1)) / (1.0 + count)
    p = np.where(delta == 0, 1.0, p)
    return np.where(np.isfinite(delta) & (count > 0), p, np.nan)


def compare_mapping(cmp: Comparison) -> Mapping[str, Any]:
    """The overall rows as {metric: {a, b, delta, p_value}} (for summaries)."""
    return {m: {c: cmp.get(c, m) for c in ("a", "b", "delta", "p_value")} for m in cmp.metrics}
