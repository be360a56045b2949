"""Metrics as mergeable accumulators, and the names that select them.

=================  ==============================================  ===========================
name               what                                            scikit-learn equivalent
=================  ==============================================  ===========================
accuracy           fraction correct                                accuracy_score
precision          positive class (macro if multiclass)            precision_score
recall             positive class (macro if multiclass)            recall_score
f1                 positive class (macro if multiclass)            f1_score
precision_macro    mean over classes present (also recall, f1)     average="macro"
f1[cat]            one class (also precision[cat], recall[cat])    average=None, that class
roc_auc            area under the ROC curve (binary score)         roc_auc_score
pr_auc             average precision (binary score)                average_precision_score
log_loss           negative log-likelihood (binary score)          log_loss
brier              squared error of the probability                brier_score_loss
ece                expected calibration error, 15 uniform bins     calibration_curve bins
mae / rmse / r2    regression                                      mean_absolute_error, ...
=================  ==============================================  ===========================

User metrics are :class:`MeanMetric` instances or :class:`Metric` subclasses.
"""

from __future__ import annotations

import re

from runyard.errors import InvalidArgument
from runyard.evaluation.metrics.base import BatchView, Metric, Tally, TaskContext
from runyard.evaluation.metrics.classification import Accuracy, PrecisionRecallF1
from runyard.evaluation.metrics.custom import MeanMetric
from runyard.evaluation.metrics.probabilistic import Brier, ExpectedCalibrationError, LogLoss
from runyard.evaluation.metrics.ranking import AveragePrecision, RocAuc
from runyard.evaluation.metrics.regression import R2, MeanAbsoluteError, RootMeanSquaredError

__all__ = [
    "METRIC_NAMES",
    "BatchView",
    "MeanMetric",
    "Metric",
    "Tally",
    "TaskContext",
    "get_metric",
]

_SIMPLE: dict[str, type[Metric]] = {
    "accuracy": Accuracy,
    "roc_auc": RocAuc,
    "pr_auc": AveragePrecision,
    "log_loss": LogLoss,
    "brier": Brier,
    "ece": ExpectedCalibrationError,
    "mae": MeanAbsoluteError,
    "rmse": RootMeanSquaredError,
    "r2": R2,
}
_PRF = re.compile(r"^(precision|recall|f1)(?:(_macro)|\[(.+)\])?$")

METRIC_NAMES = (
    *_SIMPLE,
    "precision",
    "recall",
    "f1",
    "precision_macro",
    "recall_macro",
    "f1_macro",
)


def get_metric(spec: str | Metric) -> Metric:
    """The metric a name selects (a :class:`Metric` is returned as is).

    Raises:
        InvalidArgument: an unknown name; the message lists the known ones.

    Example:
        >>> from runyard.evaluation.metrics import get_metric
        >>> get_metric("f1[cat]").name
        'f1[cat]'
    """
    if isinstance(spec, Metric):
        return spec
    if not isinstance(spec, str):
        raise InvalidArgument(f"a metric is a name or a Metric, got {type(spec).__name__}")
    name = spec.strip()
    if name in _SIMPLE:
        return _SIMPLE[name]()
    m = _PRF.match(name)
    if m:
        which, macro, cls = m.groups()
        if cls is not None:
            return PrecisionRecallF1(which, "class", cls)
        return PrecisionRecallF1(which, "macro" if macro else "binary")
    raise InvalidArgument(
        f"unknown metric {spec!r}; known: {', '.join(METRIC_NAMES)}, "
        "per class as 'f1[<class>]', or pass a Metric"
    )
