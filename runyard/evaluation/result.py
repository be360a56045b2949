"""``EvalResult``: per-slice metric values with intervals, as a table."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from runyard.errors import InvalidArgument, NotFound
from runyard.evaluation.slices import OVERALL

__all__ = ["EvalConfig", "EvalResult"]


@dataclass(frozen=True, slots=True)
class EvalConfig:
    """How a result was computed (stored with it; compare checks that two results agree).

    Attributes:
        label: label column.
        prediction: prediction column, or None.
        score: score column, or None.
        id_column: the example id column, or None when rows are identified by position.
        task: binary, multiclass or regression.
        classes: the class values as displayed.
        metrics: metric names in order.
        greater_is_better: per metric, its direction.
        slices: per slice column, None (categorical) or its bucket edges.
        crosses: the largest number of slice columns crossed.
        bootstrap: replicates.
        seed: bootstrap seed.
        confidence: interval coverage.
        min_size: slices with fewer examples are flagged ``small``.
        num_rows: examples evaluated.
        fingerprint: (rows, two order-free sums of id hashes); equal sets of ids match.
    """

    label: str
    prediction: str | None
    score: str | None
    id_column: str | None
    task: str
    classes: tuple[str, ...]
    metrics: tuple[str, ...]
    greater_is_better: Mapping[str, bool]
    slices: tuple[tuple[str, tuple[float, ...] | None], ...]
    crosses: int
    bootstrap: int
    seed: int
    confidence: float
    min_size: int
    num_rows: int
    fingerprint: tuple[int, int, int]

    def to_json(self) -> str:
        """JSON text (for storage)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> EvalConfig:
        """Inverse of :meth:`to_json`."""
        d = json.loads(text)
        d["classes"] = tuple(d["classes"])
        d["metrics"] = tuple(d["metrics"])
        d["slices"] = tuple((c, None if e is None else tuple(e)) for c, e in d["slices"])
        d["fingerprint"] = tuple(d["fingerprint"])
        return cls(**d)


@dataclass(frozen=True, eq=False)
class EvalResult:
    """Metrics per slice with bootstrap intervals; immutable.

    ``to_pandas()`` / ``to_polars()`` / ``to_arrow()`` give one row per slice and metric with
    columns ``slice`` (``overall`` or e.g. ``weather=rain & time_of_day=night``), ``metric``,
    ``value``, ``ci_low``, ``ci_high``, ``n`` and ``small``.

    Example:
        >>> import numpy as np, pyarrow as pa
        >>> from runyard.evaluation import evaluate
        >>> rng = np.random.default_rng(0)
        >>> y = rng.integers(0, 2, 400)
        >>> t = pa.table({"y": y, "y_hat": np.where(rng.random(400) < 0.9, y, 1 - y),
        ...               "city": rng.choice(["a", "b"], 400)})
        >>> res = evaluate(t, label="y", prediction="y_hat", slices=["city"],
        ...                metrics=["accuracy"], bootstrap=100)
        >>> res.value("accuracy") > 0.8
        True
    """

    config: EvalConfig
    table: pa.Table
    replicates: npt.NDArray[np.float64]
    keys: tuple[tuple[tuple[str, str], ...], ...]
    failure_table: pa.Table | None = None
    _index: dict[tuple[str, str], int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.replicates.setflags(write=False)
        slices = self.table.column("slice").to_pylist()
        metrics = self.table.column("metric").to_pylist()
        self._index.update(
            {(s, m): i for i, (s, m) in enumerate(zip(slices, metrics, strict=True))}
        )

    # -- tables -----------------------------------------------------------------------------

    def to_arrow(self) -> pa.Table:
        """The result table as Arrow."""
        return self.table

    def to_pandas(self) -> Any:
        """The result table as a pandas DataFrame (needs pandas)."""
        return self.table.to_pandas()

    def to_polars(self) -> Any:
        """The result table as a polars DataFrame (needs polars)."""
        import polars as pl

        return pl.from_arrow(self.table)

    @property
    def metrics(self) -> tuple[str, ...]:
        """Metric names in order."""
        return self.config.metrics

    def value(self, metric: str, slice: str | Mapping[str, Any] = OVERALL) -> float:
        """The point value of ``metric`` on a slice (a label or a {column: value} mapping).

        Raises:
            NotFound: no such metric or slice (empty slices are not reported).
        """
        return float(self.table.column("value")[self.row(metric, slice)].as_py())

    def row(self, metric: str, slice: str | Mapping[str, Any] = OVERALL) -> int:
        """Index of the (slice, metric) row; see :meth:`value`."""
        if metric not in self.config.metrics:
            raise NotFound(f"metric {metric!r} was not computed; metrics: {list(self.metrics)}")
        label = slice if isinstance(slice, str) else self.slice_label(slice)
        try:
            return self._index[(label, metric)]
        except KeyError:
            raise NotFound(f"no slice {label!r} in the result (empty or not sliced)") from None

    def slice_label(self, where: Mapping[str, Any]) -> str:
        """The label of the slice ``{column: value, ...}``, columns in result order."""
        order = [c for c, _ in self.config.slices]
        for c in where:
            if c not in order:
                raise NotFound(f"{c!r} is not a slice column; slice columns: {order}")
        parts = [f"{c}={_shown(where[c])}" for c in order if c in where]
        return " & ".join(parts) if parts else OVERALL

    # -- failure mining ---------------------------------------------------------------------

    def worst_slices(
        self, metric: str | None = None, k: int = 10, *, include_small: bool = False
    ) -> pa.Table:
        """Slices ranked by how much worse than overall they are, weighted by size.

        The score is ``gap * sqrt(n / N)``: the gap to the overall value (in the metric's bad
        direction) times the square root of the slice's share of the examples, so a large gap
        on a handful of examples does not outrank a real, sizeable failure. It is
        proportional to the gap's z-statistic.

        Args:
            metric: the metric to rank by (default: the first metric).
            k: how many slices.
            include_small: also rank slices flagged ``small``.

        Returns:
            A table with ``slice``, ``metric``, ``value``, ``overall``, ``gap``, ``n``,
            ``score``, ``ci_low``, ``ci_high``, worst first.

        Example:
            >>> res.worst_slices("accuracy", k=5).to_pandas()  # doctest: +SKIP
        """
        from runyard.evaluation.mining import worst_slices

        return worst_slices(self, metric or self.metrics[0], k, include_small)

    def failures(self, k: int = 20, slice: str | Mapping[str, Any] | None = None) -> pa.Table:
        """The most confident errors, with their example ids and columns.

        Classification with a binary score ranks wrong predictions by the probability the
        model gave its (wrong) prediction; regression by absolute error; otherwise errors are
        listed in a fixed pseudo-random order. At most ``keep_failures`` (an ``evaluate``
        argument) are kept.

        Args:
            k: how many.
            slice: only errors in this slice (a label or a {column: value} mapping).

        Example:
            >>> res.failures(k=5).to_pandas()  # doctest: +SKIP
        """
        from runyard.evaluation.mining import failures

        return failures(self, k, slice)

    # -- storage ----------------------------------------------------------------------------

    def log_to(self, run: Any, artifact_path: str = "eval") -> None:
        """Store on a run: ``eval/results.parquet`` and ``eval/<slice>/<metric>`` metrics.

        Args:
            run: anything with ``log_metrics`` and ``log_artifact`` (a runyard ``Run``).
            artifact_path: the artifact folder.
        """
        from runyard.evaluation.storage import log_eval

        log_eval(self, run, artifact_path)

    @classmethod
    def from_run(cls, run_id: str, client: Any, artifact_path: str = "eval") -> EvalResult:
        """Read a result stored by :meth:`log_to` back from a run.

        Args:
            run_id: the run.
            client: anything with ``read_artifact(run_id, path) -> bytes`` (a runyard ``Client``).
            artifact_path: the artifact folder.
        """
        from runyard.evaluation.storage import load_eval

        return load_eval(run_id, client, artifact_path)

    def __repr__(self) -> str:
        overall = ", ".join(
            f"{m}={self.value(m):.4g}" for m in self.metrics if (OVERALL, m) in self._index
        )
        return f"EvalResult(n={self.config.num_rows}, slices={len(set(self.keys))}, {overall})"


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def build_table(
    slices: Sequence[str],
    metrics: Sequence[str],
    values: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    high: npt.NDArray[np.float64],
    n: npt.NDArray[np.int64],
    min_size: int,
) -> pa.Table:
    """The public result table."""
    return pa.table(
        {
            "slice": pa.array(slices, pa.string()),
            "metric": pa.array(metrics, pa.string()),
            "value": pa.array(values, pa.float64()),
            "ci_low": pa.array(low, pa.float64()),
            "ci_high": pa.array(high, pa.float64()),
            "n": pa.array(n, pa.int64()),
            "small": pc.less(pa.array(n, pa.int64()), min_size),
        }
    )


def check_metric(result: EvalResult, metric: str) -> None:
    """Raise a clear error when ``metric`` is not in ``result``."""
    if metric not in result.metrics:
        raise InvalidArgument(
            f"metric {metric!r} was not computed; metrics: {list(result.metrics)}"
        )
