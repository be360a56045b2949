"""Evaluation at scale: sliced metrics, bootstrap intervals, comparisons and gates.

Example:
    >>> import runyard as ry
    >>> import runyard as ry
    >>> res = ry.evaluate(  # doctest: +SKIP
    ...     "preds.parquet", label="y", prediction="y_hat", score="p",
    ...     slices=["weather", ry.bucket("distance", [0, 10, 50])], crosses=2,
    ...     metrics=["accuracy", "f1", "roc_auc", "ece"], bootstrap=1000)
    >>> cmp = ry.compare(res_a, res_b)  # doctest: +SKIP
    >>> verdict = ry.gate(  # doctest: +SKIP
    ...     cmp, "accuracy >= 0.95", "no_slice_regression(accuracy, max_drop=0.02)")
"""

from runyard.evaluation.compare import Comparison, compare
from runyard.evaluation.evaluate import evaluate
from runyard.evaluation.gates import GateVerdict, RuleOutcome, gate, parse_rule
from runyard.evaluation.metrics import METRIC_NAMES, MeanMetric, Metric, get_metric
from runyard.evaluation.result import EvalConfig, EvalResult
from runyard.evaluation.slices import Bucket, bucket
from runyard.evaluation.storage import ArtifactReader, EvalRun, load_eval, log_eval
from runyard.evaluation.tables import comparison_rows, result_rows, verdict_rows, worst_slice_rows

__all__ = [
    "METRIC_NAMES",
    "ArtifactReader",
    "Bucket",
    "Comparison",
    "EvalConfig",
    "EvalResult",
    "EvalRun",
    "GateVerdict",
    "MeanMetric",
    "Metric",
    "RuleOutcome",
    "bucket",
    "compare",
    "comparison_rows",
    "evaluate",
    "gate",
    "get_metric",
    "load_eval",
    "log_eval",
    "parse_rule",
    "result_rows",
    "verdict_rows",
    "worst_slice_rows",
]
