"""Regression metrics: MAE, RMSE and R² from weighted sums (mergeable by addition)."""

from __future__ import annotations

from collections.abc import Mapping

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

__all__ = ["MeanAbsoluteError", "R2", "RootMeanSquaredError"]


def _error(view: BatchView) -> FloatArray:
    if view.y_hat is None:  # pragma: no cover - the planner refuses this earlier
        raise ValueError("regression metrics need predictions")
    return np.asarray(view.y_hat, dtype=np.float64) - np.asarray(view.y, dtype=np.float64)


def _abs_fn(view: BatchView, ctx: TaskContext) -> tuple[None, FloatArray]:
    return None, np.abs(_error(view))


def _sq_fn(view: BatchView, ctx: TaskContext) -> tuple[None, FloatArray]:
    return None, _error(view) ** 2


def _y_fn(view: BatchView, ctx: TaskContext) -> tuple[None, FloatArray]:
    return None, np.asarray(view.y, dtype=np.float64) - ctx.label_shift


def _y2_fn(view: BatchView, ctx: TaskContext) -> tuple[None, FloatArray]:
    return None, (np.asarray(view.y, dtype=np.float64) - ctx.label_shift) ** 2


_ABS = Tally("abs_error", 1, _abs_fn)
_SQ = Tally("sq_error", 1, _sq_fn)
_Y = Tally("label_sum", 1, _y_fn)
_Y2 = Tally("label_sq_sum", 1, _y2_fn)


class _Regression(Metric):
    tasks = frozenset({"regression"})
    greater_is_better = False


class MeanAbsoluteError(_Regression):
    """Mean absolute error (``sklearn.metrics.mean_absolute_error``)."""

    name = "mae"

    def tallies(self, ctx: TaskContext) -> tuple[Tally, ...]:
        """Absolute errors and the count."""
        return (_ABS, count_tally())

    def compute(self, tallies: Mapping[str, FloatArray], ctx: TaskContext) -> FloatArray:
        """Weighted mean absolute error."""
        return safe_div(tallies["abs_error"][:, 0], tallies["n"][:, 0], np.nan)


class RootMeanSquaredError(_Regression):
    """Root mean squared error (``sklearn.metrics.root_mean_squared_error``)."""

    name = "rmse"

    def tallies(self, ctx: TaskContext) -> tuple[Tally, ...]:
        """Squared errors and the count."""
        return (_SQ, count_tally())

    def compute(self, tallies: Mapping[str, FloatArray], ctx: TaskContext) -> FloatArray:
        """Square root of the weighted mean squared error."""
        return np.sqrt(safe_div(tallies["sq_error"][:, 0], tallies["n"][:, 0], np.nan))


class R2(_Regression):
    """Coefficient of determination (``sklearn.metrics.r2_score``, ``force_finite=True``)."""

    name = "r2"
    greater_is_better = True

    def tallies(self, ctx: TaskContext) -> tuple[Tally, ...]:
        """Squared errors, label sums (shifted for stability) and the count."""
        return (_SQ, _Y, _Y2, count_tally())

    def compute(self, tallies: Mapping[str, FloatArray], ctx: TaskContext) -> FloatArray:
        """``1 - SS_res / SS_tot``; 1.0 (perfect) or 0.0 where the labels are constant."""
        n = tallies["n"][:, 0]
        ss_res = tallies["sq_error"][:, 0]
        s = tallies["label_sum"][:, 0]
        ss_tot = tallies["label_sq_sum"][:, 0] - safe_div(s * s, n)
        ss_tot = np.where(ss_tot <= 1e-12 * np.abs(tallies["label_sq_sum"][:, 0]), 0.0, ss_tot)
        r2 = 1.0 - safe_div(ss_res, ss_tot)
        constant = np.where(ss_res == 0, 1.0, 0.0)
        return np.where(n == 0, np.nan, np.where(ss_tot == 0, constant, r2))
