"""Probability metrics of a binary score: log loss, Brier score, expected calibration error."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from runyard.evaluation.metrics.base import (
    BatchView,
    FloatArray,
    IntArray,
    Metric,
    Tally,
    TaskContext,
    safe_div,
)

__all__ = ["Brier", "ExpectedCalibrationError", "LogLoss", "count_tally"]

_EPS = float(np.finfo(np.float64).eps)


def _count_fn(view: BatchView, ctx: TaskContext) -> tuple[None, None]:
    return None, None


def count_tally() -> Tally:
    """The weighted number of rows (shared by every mean-type metric)."""
    return Tally("n", 1, _count_fn)


def _score(view: BatchView) -> FloatArray:
    if view.score is None:  # pragma: no cover - the planner refuses this earlier
        raise ValueError("this metric needs a score")
    return view.score


def _log_loss_fn(view: BatchView, ctx: TaskContext) -> tuple[None, FloatArray]:
    p = _score(view)
    pos = view.y == ctx.positive
    q = np.where(pos, p, 1.0 - p)
    return None, -np.log(np.clip(q, _EPS, 1.0 - _EPS))


def _brier_fn(view: BatchView, ctx: TaskContext) -> tuple[None, FloatArray]:
    return None, (view.positive(ctx) - _score(view)) ** 2


def _ece_bin(view: BatchView, ctx: TaskContext) -> IntArray:
    inner = np.linspace(0.0, 1.0, ctx.ece_bins + 1)[1:-1]
    return np.searchsorted(inner, _score(view)).astype(np.int64)


def _ece_count_fn(view: BatchView, ctx: TaskContext) -> tuple[IntArray, None]:
    return _ece_bin(view, ctx) * 2 + (view.y == ctx.positive), None


def _ece_score_fn(view: BatchView, ctx: TaskContext) -> tuple[IntArray, FloatArray]:
    return _ece_bin(view, ctx), _score(view)


class _MeanOfRows(Metric):
    needs = frozenset({"label", "score"})
    tasks = frozenset({"binary"})
    greater_is_better = False
    _tally: Tally

    def tallies(self, ctx: TaskContext) -> tuple[Tally, ...]:
        """The per-row value and the row count."""
        return (self._tally, count_tally())

    def compute(self, tallies: Mapping[str, FloatArray], ctx: TaskContext) -> FloatArray:
        """Weighted mean of the per-row value."""
        return safe_div(tallies[self._tally.name][:, 0, :], tallies["n"][:, 0, :], np.nan)


class LogLoss(_MeanOfRows):
    """Mean negative log-likelihood (``sklearn.metrics.log_loss``; clipped at float eps)."""

    name = "log_loss"
    _tally = Tally("log_loss", 1, _log_loss_fn)


class Brier(_MeanOfRows):
    """Mean squared error of the probability (``sklearn.metrics.brier_score_loss``)."""

    name = "brier"
    _tally = Tally("brier", 1, _brier_fn)


class ExpectedCalibrationError(Metric):
    """Expected calibration error of the positive-class probability.

    ``sum_b |positives_b - sum(p)_b| / n`` over ``ctx.ece_bins`` equal-width bins of ``p``
    (15 by default), the bins of ``sklearn.calibration.calibration_curve(strategy="uniform")``.
    """

    name = "ece"
    needs = frozenset({"label", "score"})
    tasks = frozenset({"binary"})
    greater_is_better = False

    def tallies(self, ctx: TaskContext) -> tuple[Tally, ...]:
        """Counts per (bin, label) and the probability sum per bin."""
        return (
            Tally("ece_count", ctx.ece_bins * 2, _ece_count_fn),
            Tally("ece_score", ctx.ece_bins, _ece_score_fn),
        )

    def compute(self, tallies: Mapping[str, FloatArray], ctx: TaskContext) -> FloatArray:
        """Sum of per-bin gaps over the total count."""
        c = tallies["ece_count"]
        c = c.reshape(c.shape[0], ctx.ece_bins, 2, c.shape[2])
        positives = c[:, :, 1, :]
        total = c.sum(axis=(1, 2))
        gap = np.abs(positives - tallies["ece_score"]).sum(axis=1)
        return safe_div(gap, total, np.nan)
