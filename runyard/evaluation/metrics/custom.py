"""User metrics: the weighted mean of a per-row value, or any :class:`Metric` subclass."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from runyard.evaluation.metrics.base import (
    BatchView,
    FloatArray,
    Metric,
    Tally,
    TaskContext,
    safe_div,
)
from runyard.evaluation.metrics.probabilistic import count_tally

__all__ = ["MeanMetric"]


class _RowValue:
    """A picklable tally function around the user's per-row callable."""

    def __init__(self, fn: Callable[[Mapping[str, Any]], Any]) -> None:
        self.fn = fn

    def __call__(self, view: BatchView, ctx: TaskContext) -> tuple[None, FloatArray]:
        values = np.asarray(self.fn(view.columns), dtype=np.float64)
        if values.shape != (view.n,):
            raise ValueError(f"a metric's per-row function returned shape {values.shape}")
        return None, values


class MeanMetric(Metric):
    """A user metric: the mean of a value computed per row.

    Args:
        name: the metric's name in results and gates.
        fn: ``columns -> array`` with one float per row; ``columns`` maps each column of
            the batch to a numpy array (the label, prediction, score and any others).
            For process executors it must be picklable (a module-level function).
        greater_is_better: the direction used by failure mining, comparisons and gates.
        needs: the columns ``fn`` reads besides the label (read from the input).

    Example:
        >>> from runyard.evaluation import MeanMetric
        >>> def within_one(cols):
        ...     return abs(cols["y_hat"] - cols["y"]) <= 1
        >>> metric = MeanMetric("within_one", within_one, needs=("y_hat",))
    """

    tasks = frozenset({"binary", "multiclass", "regression"})

    def __init__(
        self,
        name: str,
        fn: Callable[[Mapping[str, Any]], Any],
        *,
        greater_is_better: bool = True,
        needs: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.greater_is_better = greater_is_better
        self.needs = frozenset({"label"})
        self.extra_columns = tuple(needs)
        self._tally = Tally(f"mean:{name}", 1, _RowValue(fn))

    def tallies(self, ctx: TaskContext) -> tuple[Tally, ...]:
        """The per-row value and the row count."""
        return (self._tally, count_tally())

    def compute(self, tallies: Mapping[str, FloatArray], ctx: TaskContext) -> FloatArray:
        """Weighted mean."""
        return safe_div(tallies[self._tally.name][:, 0], tallies["n"][:, 0], np.nan)
