"""Label metrics from the weighted confusion matrix: accuracy, precision, recall, F1.

All of them share one tally, ``confusion``, keyed by ``y * K + y_hat``. Values follow
scikit-learn with ``zero_division=0``: ``average="binary"`` uses the positive class,
``"macro"`` averages over the classes present in the labels or predictions of that slice
(and replicate), and a per-class metric reports one class.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

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

__all__ = ["Accuracy", "PrecisionRecallF1"]

Average = Literal["binary", "macro", "class"]


def _confusion_fn(view: BatchView, ctx: TaskContext) -> tuple[IntArray | None, None]:
    if view.y_hat is None:  # pragma: no cover - the planner refuses this earlier
        raise ValueError("confusion needs predictions")
    return view.y.astype(np.int64) * ctx.n_classes + view.y_hat.astype(np.int64), None


def confusion_tally(ctx: TaskContext) -> Tally:
    """The shared ``K x K`` confusion tally."""
    return Tally("confusion", ctx.n_classes * ctx.n_classes, _confusion_fn)


def _matrix(tallies: Mapping[str, FloatArray], ctx: TaskContext) -> FloatArray:
    c = tallies["confusion"]
    k = ctx.n_classes
    return c.reshape(c.shape[0], k, k, c.shape[2])  # (groups, true, pred, R+1)


class Accuracy(Metric):
    """Fraction of rows whose prediction equals the label (``sklearn.metrics.accuracy_score``)."""

    name = "accuracy"

    def tallies(self, ctx: TaskContext) -> tuple[Tally, ...]:
        """The confusion tally."""
        return (confusion_tally(ctx),)

    def compute(self, tallies: Mapping[str, FloatArray], ctx: TaskContext) -> FloatArray:
        """Trace over total."""
        m = _matrix(tallies, ctx)
        correct = np.trace(m, axis1=1, axis2=2)
        return safe_div(correct, m.sum(axis=(1, 2)), np.nan)


class PrecisionRecallF1(Metric):
    """Precision, recall or F1, binary, macro-averaged, or for one class.

    Args:
        which: "precision", "recall" or "f1".
        average: "binary" (the positive class; macro when there are more than two classes),
            "macro", or "class" (one class).
        cls: the class (as displayed) when ``average="class"``.
    """

    def __init__(self, which: str, average: Average, cls: str | None = None) -> None:
        self.which = which
        self.average = average
        self.cls = cls
        suffix = {"binary": "", "macro": "_macro", "class": f"[{cls}]"}[average]
        self.name = f"{which}{suffix}"

    def tallies(self, ctx: TaskContext) -> tuple[Tally, ...]:
        """The confusion tally."""
        return (confusion_tally(ctx),)

    def compute(self, tallies: Mapping[str, FloatArray], ctx: TaskContext) -> FloatArray:
        """Per-class ratios, then the requested average."""
        m = _matrix(tallies, ctx)
        tp = np.diagonal(m, axis1=1, axis2=2).transpose(0, 2, 1)  # (groups, K, R+1)
        predicted = m.sum(axis=1)
        actual = m.sum(axis=2)
        if self.which == "precision":
            per_class = safe_div(tp, predicted)
        elif self.which == "recall":
            per_class = safe_div(tp, actual)
        else:
            per_class = safe_div(2 * tp, predicted + actual)
        if self.average == "binary" and ctx.task == "binary":
            return per_class[:, ctx.positive, :]
        if self.average == "class":
            return per_class[:, ctx.classes.index(str(self.cls)), :]
        present = (predicted + actual) > 0
        n_present = present.sum(axis=1)
        return safe_div((per_class * present).sum(axis=1), n_present.astype(np.float64), np.nan)
