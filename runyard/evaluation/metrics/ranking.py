"""Ranking metrics of a binary score: ROC-AUC and PR-AUC (average precision).

Point values are exact: the engine keeps, per slice, the positive and negative counts of
every distinct score (sorted arrays that merge by union), and :func:`roc_auc_from_counts`
and :func:`average_precision_from_counts` reproduce ``sklearn.metrics.roc_auc_score`` and
``average_precision_score`` from them. Bootstrap replicates use the same formulas on a
``score_bins`` tally (quantile bins fixed before the first batch), shifted by the difference
between the exact and the binned point value, so intervals stay centred on the exact value.
"""

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

__all__ = ["AveragePrecision", "RocAuc", "average_precision_from_counts", "roc_auc_from_counts"]


def _bins_fn(view: BatchView, ctx: TaskContext) -> tuple[IntArray, None]:
    if view.score is None:  # pragma: no cover - the planner refuses this earlier
        raise ValueError("ranking metrics need a score")
    b = np.searchsorted(np.asarray(ctx.score_edges), view.score, side="right")
    return b.astype(np.int64) * 2 + (view.y == ctx.positive), None


def score_bins_tally(ctx: TaskContext) -> Tally:
    """Weighted (negative, positive) counts per score bin."""
    return Tally("score_bins", (len(ctx.score_edges) + 1) * 2, _bins_fn)


def roc_auc_from_counts(neg: FloatArray, pos: FloatArray) -> FloatArray:
    """ROC-AUC from counts per ascending score level along the second-to-last axis.

    Ties count one half (Mann-Whitney), which equals the trapezoidal area of the ROC curve.
    NaN where a group has no positives or no negatives.
    """
    below = np.cumsum(neg, axis=-2) - neg
    wins = (pos * (below + 0.5 * neg)).sum(axis=-2)
    return safe_div(wins, pos.sum(axis=-2) * neg.sum(axis=-2), np.nan)


def average_precision_from_counts(neg: FloatArray, pos: FloatArray) -> FloatArray:
    """Average precision (step-wise PR-AUC) from counts per ascending score level."""
    tp = np.cumsum(pos[..., ::-1, :], axis=-2)
    fp = np.cumsum(neg[..., ::-1, :], axis=-2)
    precision = safe_div(tp, tp + fp)
    total = tp[..., -1:, :]
    recall_step = safe_div(pos[..., ::-1, :], total)
    ap = (recall_step * precision).sum(axis=-2)
    return np.where(total[..., 0, :] > 0, ap, np.nan)


class _RankingMetric(Metric):
    needs = frozenset({"label", "score"})
    tasks = frozenset({"binary"})

    def tallies(self, ctx: TaskContext) -> tuple[Tally, ...]:
        """The score-bin tally."""
        return (score_bins_tally(ctx),)

    def _from_counts(self, neg: FloatArray, pos: FloatArray) -> FloatArray:
        raise NotImplementedError

    def compute(self, tallies: Mapping[str, FloatArray], ctx: TaskContext) -> FloatArray:
        """Binned values (the engine re-centres replicates on the exact point value)."""
        c = tallies["score_bins"]
        c = c.reshape(c.shape[0], -1, 2, c.shape[2])
        return self._from_counts(c[:, :, 0, :], c[:, :, 1, :])

    def exact(self, scores: FloatArray, pos: FloatArray, neg: FloatArray) -> float | None:
        """The exact value from per-distinct-score counts (scores ascending)."""
        return float(self._from_counts(neg[:, None], pos[:, None])[0])

    @property
    def uses_score_counts(self) -> bool:
        """Ranking metrics take their point value from exact score counts."""
        return True


class RocAuc(_RankingMetric):
    """Area under the ROC curve (``sklearn.metrics.roc_auc_score``)."""

    name = "roc_auc"

    def _from_counts(self, neg: FloatArray, pos: FloatArray) -> FloatArray:
        return roc_auc_from_counts(neg, pos)


class AveragePrecision(_RankingMetric):
    """Area under the precision-recall curve as average precision.

    Equals ``sklearn.metrics.average_precision_score``.
    """

    name = "pr_auc"

    def _from_counts(self, neg: FloatArray, pos: FloatArray) -> FloatArray:
        return average_precision_from_counts(neg, pos)
