"""Evaluation at scale: sliced metrics, bootstrap intervals, comparisons and gates."""

from runyard.evaluation.evaluate import evaluate
from runyard.evaluation.metrics import MeanMetric, Metric
from runyard.evaluation.result import EvalResult
from runyard.evaluation.slices import bucket

__all__ = ["EvalResult", "MeanMetric", "Metric", "bucket", "evaluate"]
