"""``evaluate``: predictions in, per-slice metrics with bootstrap intervals out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runyard.errors import InvalidArgument
from runyard.evaluation.assemble import assemble
from runyard.evaluation.bootstrap import percentile_interval
from runyard.evaluation.engine import ShardState, evaluate_shard, merge_states
from runyard.evaluation.inputs import as_source
from runyard.evaluation.metrics import Metric
from runyard.evaluation.plan import EvalPlan, make_plan
from runyard.evaluation.result import EvalConfig, EvalResult, build_table
from runyard.evaluation.slices import Bucket, SliceSpec, parse_slices
from runyard.executors.base import Executor

__all__ = ["evaluate"]


def evaluate(
    predictions: Any,
    *,
    label: str = "label",
    prediction: str | None = "prediction",
    score: str | None = None,
    slices: Sequence[SliceSpec] | SliceSpec | None = None,
    crosses: int = 1,
    metrics: Sequence[str | Metric] | None = None,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    id: str | None = "example_id",
    min_size: int = 30,
    pos_label: Any = None,
    keep_failures: int = 100,
    run: Any = None,
    executor: str | Executor | None = None,
    shards: int | None = None,
) -> EvalResult:
    """Evaluate per-example predictions: metrics per slice with bootstrap intervals.

    Args:
        predictions: an Arrow table, a pandas or polars DataFrame, or the path of a Parquet
            file or directory (streamed in batches, never loaded whole).
        label: the label column.
        prediction: the predicted label (or value) column; None to threshold ``score`` at 0.5.
        score: the probability of the positive class (binary), or any real-valued score for
            the ranking metrics; enables roc_auc, pr_auc, log_loss, brier and ece.
        slices: slice columns: names (every value is a slice), ``bucket(column, edges)`` for
            numeric columns, or ``{column: edges}``.
        crosses: also report crosses of up to this many slice columns.
        metrics: metric names (see :mod:`runyard.evaluation.metrics`) or Metric objects;
            default: the label metrics, plus the score metrics when ``score`` is given.
        bootstrap: Poisson bootstrap replicates (0: no intervals).
        confidence: coverage of the percentile intervals.
        seed: bootstrap seed; the same seed and ids give the same resamples, always.
        id: the example id column. When the default ``example_id`` is absent, rows are
            identified by their position (0, 1, ... in input order); an explicitly named
            column that is absent is an error.
        min_size: slices with fewer examples are reported but flagged ``small``.
        pos_label: the positive class of a binary task (default: 1 / True / the larger).
        keep_failures: how many most-confident errors to keep for :meth:`EvalResult.failures`.
        run: a run to store the result on (``eval/results.parquet`` and summary metrics).
        executor: where shards run: an Executor, ``"inline"``, ``"process"``, or None (here).
        shards: how many shards (default: twice the executor's parallelism).

    Returns:
        The :class:`EvalResult`.

    Raises:
        InvalidArgument: missing columns, label/prediction type mismatch, NaN or null values,
            a metric the data cannot support, malformed slices. Nothing is stored on ``run``.

    Example:
        >>> import numpy as np, pyarrow as pa
        >>> import runyard as ry
        >>> rng = np.random.default_rng(0)
        >>> p = rng.random(1000); y = (rng.random(1000) < p).astype(int)
        >>> t = pa.table({"y": y, "p": p, "weather": rng.choice(["rain", "sun"], 1000)})
        >>> res = ry.evaluate(t, label="y", prediction=None, score="p", slices=["weather"],
        ...                   metrics=["accuracy", "roc_auc", "ece"], bootstrap=200)
        >>> res.to_pandas().columns.tolist()
        ['slice', 'metric', 'value', 'ci_low', 'ci_high', 'n', 'small']
    """
    if not 0.0 < confidence < 1.0:
        raise InvalidArgument(f"confidence must be in (0, 1), got {confidence!r}")
    if not isinstance(min_size, int) or min_size < 0:
        raise InvalidArgument(f"min_size must be a non-negative integer, got {min_size!r}")
    source = as_source(predictions)
    parsed = parse_slices(slices)
    plan = make_plan(
        source,
        label=label,
        prediction=prediction,
        score=score,
        id_column=id,
        id_explicit=id not in (None, "example_id"),
        slices=parsed,
        crosses=crosses,
        metrics=metrics,
        bootstrap=bootstrap,
        seed=seed,
        pos_label=pos_label,
        keep_failures=keep_failures,
    )
    state = _run_shards(source, plan, executor, shards)
    rows = assemble(state, plan)
    low, high = percentile_interval(rows.replicates, confidence)
    config = EvalConfig(
        label=label,
        prediction=prediction,
        score=score,
        id_column=plan.id_column,
        task=plan.ctx.task,
        classes=plan.ctx.classes,
        metrics=tuple(m.name for m in plan.metrics),
        greater_is_better={m.name: m.greater_is_better for m in plan.metrics},
        slices=tuple((s.column, s.edges) if isinstance(s, Bucket) else (s, None) for s in parsed),
        crosses=crosses,
        bootstrap=bootstrap,
        seed=seed,
        confidence=confidence,
        min_size=min_size,
        num_rows=state.fingerprint[0],
        fingerprint=state.fingerprint,
    )
    table = build_table(rows.slices, rows.metrics, rows.values, low, high, rows.n, min_size)
    result = EvalResult(config, table, rows.replicates, tuple(rows.keys), state.failures)
    if run is not None:
        result.log_to(run)
    return result


def _run_shards(
    source: Any, plan: EvalPlan, executor: str | Executor | None, shards: int | None
) -> ShardState:
    if executor is None or executor == "inline" and shards is None:
        parts = source.shards(shards or 1)
        states = [evaluate_shard(s, plan) for s in parts]
    else:
        from runyard.executors import get_executor

        owned = not isinstance(executor, Executor)
        ex = get_executor(executor)
        try:
            parts = source.shards(shards or 2 * max(1, ex.parallelism))
            futures = [ex.submit(evaluate_shard, s, plan) for s in parts]
            states = [f.result() for f in futures]
        finally:
            if owned:
                ex.shutdown(wait=True)
    state = states[0]
    for other in states[1:]:
        state = merge_states(state, other, plan)
    return state
