"""The plan of an evaluation: columns, task, dictionaries and tally layout, fixed up front.

:func:`make_plan` validates the input (missing columns, type mismatches, NaN or null
predictions, probabilities outside [0, 1]) and scans the small columns once (labels,
predictions, slice columns, a sample of scores) to fix everything shards must agree on:
class and slice dictionaries, score-bin edges, the label shift of regression sums. The
plan is a frozen, picklable value that every shard receives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from runyard.errors import InvalidArgument
from runyard.evaluation.inputs import Source, source_batches
from runyard.evaluation.metrics import Metric, Tally, TaskContext, get_metric
from runyard.evaluation.metrics.probabilistic import count_tally
from runyard.evaluation.slices import (
    Bucket,
    SliceColumn,
    bucket_column,
    category_column,
    families,
)

__all__ = ["EvalPlan", "make_plan"]

SCORE_BINS = 64
CELL_STATE_LIMIT = 256 * 2**20
FAMILY_STATE_LIMIT = 1024 * 2**20
_PROBABILITY_METRICS = {"log_loss", "brier", "ece"}


@dataclass(frozen=True)
class EvalPlan:
    """Everything a shard needs; identical for every shard of one evaluation."""

    label: str
    prediction: str | None
    score: str | None
    id_column: str | None
    extra_columns: tuple[str, ...]
    ctx: TaskContext
    classes: pa.Array | None
    slice_columns: tuple[SliceColumn, ...]
    families: tuple[tuple[int, ...], ...]
    units: tuple[tuple[int, ...], ...]
    metrics: tuple[Metric, ...]
    tallies: tuple[Tally, ...]
    replicates: int
    seed: int
    batch_size: int
    keep_failures: int
    num_rows: int

    @property
    def columns(self) -> list[str]:
        """Every column a shard reads."""
        cols = [self.label, self.prediction, self.score, self.id_column, *self.extra_columns]
        cols += [s.column for s in self.slice_columns]
        return list(dict.fromkeys(c for c in cols if c))

    def unit_shape(self, unit: tuple[int, ...]) -> tuple[int, ...]:
        """Cardinalities of a unit's slice columns."""
        return tuple(self.slice_columns[c].cardinality for c in unit)

    def layout(self) -> tuple[list[list[int]], int]:
        """Offsets of each (unit, tally) block in the flat state, and the total size."""
        offsets: list[list[int]] = []
        total = 0
        for unit in self.units:
            cells = math.prod(self.unit_shape(unit))
            row = []
            for t in self.tallies:
                row.append(total)
                total += cells * t.size
            offsets.append(row)
        return offsets, total

    @property
    def needs_score_counts(self) -> bool:
        """True when a ranking metric needs exact per-score counts."""
        return any(m.uses_score_counts for m in self.metrics)


def _require(source: Source, column: str | None, role: str) -> None:
    if column is not None and column not in source.schema.names:
        raise InvalidArgument(
            f"column {column!r} ({role}) is not in the predictions; "
            f"columns are: {', '.join(source.schema.names)}"
        )


def _kind(t: pa.DataType) -> str:
    if pa.types.is_dictionary(t):
        return _kind(t.value_type)
    if pa.types.is_boolean(t) or pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "str"
    return str(t)


def make_plan(
    source: Source,
    *,
    label: str,
    prediction: str | None,
    score: str | None,
    id_column: str | None,
    id_explicit: bool,
    slices: Sequence[str | Bucket],
    crosses: int,
    metrics: Sequence[str | Metric] | None,
    bootstrap: int,
    seed: int,
    pos_label: Any,
    keep_failures: int,
    ece_bins: int = 15,
) -> EvalPlan:
    """Validate the request against the data and fix the plan (one pass over small columns).

    Raises:
        InvalidArgument: a missing column, incompatible label and prediction types, NaN or
            null labels/predictions/scores, a metric that the data cannot support.
    """
    if source.num_rows == 0:
        raise InvalidArgument(f"the predictions ({source.description}) have no rows")
    if prediction is None and score is None:
        raise InvalidArgument("give a prediction column, a score column, or both")
    _require(source, label, "label")
    _require(source, prediction, "prediction")
    _require(source, score, "score")
    if id_explicit:
        _require(source, id_column, "example id")
    elif id_column is not None and id_column not in source.schema.names:
        id_column = None
    for s in slices:
        _require(source, s.column if isinstance(s, Bucket) else s, "slice")
    if not isinstance(crosses, int) or crosses < 1:
        raise InvalidArgument(f"crosses must be an integer >= 1, got {crosses!r}")
    if not isinstance(bootstrap, int) or bootstrap < 0:
        raise InvalidArgument(f"bootstrap must be an integer >= 0, got {bootstrap!r}")

    schema = source.schema
    label_kind = _kind(schema.field(label).type)
    pred_kind = _kind(schema.field(prediction).type) if prediction else None
    if score is not None and _kind(schema.field(score).type) not in ("int", "float"):
        raise InvalidArgument(
            f"column {score!r} (score) must be numeric, it is {schema.field(score).type}"
        )
    for col, kind in ((label, label_kind), (prediction, pred_kind)):
        if col is not None and kind not in ("int", "float", "str"):
            raise InvalidArgument(f"column {col!r} has unsupported type {schema.field(col).type}")
    if pred_kind is not None and (label_kind == "str") != (pred_kind == "str"):
        raise InvalidArgument(
            f"label column {label!r} ({schema.field(label).type}) and prediction column "
            f"{prediction!r} ({schema.field(prediction).type}) have incompatible types; "
            "both must be numeric or both strings"
        )

    resolved = [get_metric(m) for m in metrics] if metrics is not None else None
    extra = tuple(dict.fromkeys(c for m in resolved or [] for c in getattr(m, "extra_columns", ())))
    for c in extra:
        _require(source, c, "user metric")
    scan = _scan(source, label, prediction, score, id_column, slices)

    regression = _is_regression(resolved, label_kind, scan["label_integral"])
    if regression:
        if prediction is None:
            raise InvalidArgument("regression metrics need a prediction column")
        ctx = TaskContext("regression", label_shift=scan["first_label"])
        classes = None
        if resolved is None:
            resolved = [get_metric(n) for n in ("mae", "rmse", "r2")]
    else:
        classes, ctx = _classes(scan, label, label_kind, pos_label, ece_bins, scan["score_edges"])
        if resolved is None:
            derivable = prediction is not None or (score is not None and ctx.task == "binary")
            names = ["accuracy", "precision", "recall", "f1"] if derivable else []
            if score is not None and ctx.task == "binary":
                names += ["roc_auc", "pr_auc", "log_loss", "brier", "ece"]
            resolved = [get_metric(n) for n in names]
    _check_metrics(resolved, ctx, prediction, score, scan)

    slice_cols = tuple(
        bucket_column(s) if isinstance(s, Bucket) else category_column(s, scan["slices"][s])
        for s in slices
    )
    tallies: dict[str, Tally] = {"n": count_tally()}
    for m in resolved:
        for t in m.tallies(ctx):
            tallies.setdefault(t.name, t)
    fams = families(len(slice_cols), crosses)
    units = _units(slice_cols, fams, sum(t.size for t in tallies.values()), bootstrap)
    return EvalPlan(
        label=label,
        prediction=prediction,
        score=score,
        id_column=id_column,
        extra_columns=extra,
        ctx=ctx,
        classes=classes,
        slice_columns=slice_cols,
        families=fams,
        units=units,
        metrics=tuple(resolved),
        tallies=tuple(tallies.values()),
        replicates=bootstrap,
        seed=int(seed),
        batch_size=int(min(131072, max(1024, 2**23 // max(bootstrap, 1)))),
        keep_failures=keep_failures,
        num_rows=source.num_rows,
    )


def _is_regression(metrics: list[Metric] | None, label_kind: str, integral: bool) -> bool:
    if metrics:
        reg = [m.name for m in metrics if m.tasks == frozenset({"regression"})]
        cls = [m.name for m in metrics if "regression" not in m.tasks]
        if reg and cls:
            raise InvalidArgument(
                f"metrics {reg} are for regression and {cls} for classification; "
                "evaluate them separately"
            )
        if reg:
            return True
        if cls:
            return False
    return label_kind == "float" and not integral


def _units(
    cols: tuple[SliceColumn, ...], fams: tuple[tuple[int, ...], ...], keys: int, reps: int
) -> tuple[tuple[int, ...], ...]:
    """One unit of all columns crossed (cheapest) when its state is small, else one per family."""
    per_key = keys * (reps + 1) * 8
    everything = tuple(range(len(cols)))
    if math.prod(c.cardinality for c in cols) * per_key <= CELL_STATE_LIMIT:
        return (everything,)
    size = sum(math.prod(cols[c].cardinality for c in f) for f in fams) * per_key
    if size > FAMILY_STATE_LIMIT:
        raise InvalidArgument(
            f"the slice crosses need {size / 2**30:.1f} GiB of bootstrap state; use fewer "
            "bootstrap replicates, lower crosses=, or bucket high-cardinality slice columns"
        )
    return fams


def _check_metrics(
    metrics: list[Metric],
    ctx: TaskContext,
    prediction: str | None,
    score: str | None,
    scan: dict[str, Any],
) -> None:
    if not metrics:
        raise InvalidArgument("no metrics to compute")
    names = [m.name for m in metrics]
    for name in names:
        if names.count(name) > 1:
            raise InvalidArgument(f"metric {name!r} is requested twice")
    for m in metrics:
        if ctx.task not in m.tasks:
            raise InvalidArgument(f"metric {m.name!r} does not apply to a {ctx.task} task")
        derivable = score is not None and ctx.task == "binary" and scan["score_in_unit"]
        if "prediction" in m.needs and prediction is None and not derivable:
            raise InvalidArgument(
                f"metric {m.name!r} needs a prediction column (prediction=), or a binary "
                "probability score= to threshold at 0.5"
            )
        if "score" in m.needs and score is None:
            raise InvalidArgument(f"metric {m.name!r} needs a score column (score=)")
        if m.name in _PROBABILITY_METRICS and not scan["score_in_unit"]:
            raise InvalidArgument(
                f"metric {m.name!r} needs probabilities, but column {score!r} (score) has "
                "values outside [0, 1]"
            )
        cls = getattr(m, "cls", None)
        if cls is not None and str(cls) not in ctx.classes:
            raise InvalidArgument(
                f"metric {m.name!r} names class {cls!r}; the classes are {list(ctx.classes)}"
            )


def _classes(
    scan: dict[str, Any],
    label: str,
    kind: str,
    pos_label: Any,
    ece_bins: int,
    edges: tuple[float, ...],
) -> tuple[pa.Array, TaskContext]:
    values = pc.unique(pa.concat_arrays(scan["classes"]))
    if kind != "str":
        values = pc.cast(values, pa.int64(), safe=False)
        values = pc.unique(values)
    values = pc.take(values, pc.sort_indices(values))
    py = values.to_pylist()
    if kind != "str" and set(py) <= {0, 1}:
        values, py = pa.array([0, 1], pa.int64()), [0, 1]
    if len(py) > 1000:
        raise InvalidArgument(f"label column {label!r} has {len(py)} classes (limit 1000)")
    shown = tuple(str(v) for v in py)
    if len(py) > 2:
        return values, TaskContext("multiclass", shown, 0, edges, ece_bins)
    if pos_label is None:
        positive = len(py) - 1
    elif str(pos_label) in shown:
        positive = shown.index(str(pos_label))
    else:
        raise InvalidArgument(f"pos_label {pos_label!r} is not one of the classes {list(shown)}")
    return values, TaskContext("binary", shown, positive, edges, ece_bins)


def _scan(
    source: Source,
    label: str,
    prediction: str | None,
    score: str | None,
    id_column: str | None,
    slices: Sequence[str | Bucket],
) -> dict[str, Any]:
    """One streaming pass over the small columns: validation and dictionaries."""
    cats = [s for s in slices if isinstance(s, str)]
    cols = list(dict.fromkeys(c for c in (label, prediction, score, id_column, *cats) if c))
    stride = max(1, source.num_rows // 500_000)
    distinct: dict[str, list[pa.Array]] = {c: [] for c in cats}
    classes: list[pa.Array] = []
    samples: list[np.ndarray] = []
    integral, in_unit, first_label = True, True, math.nan
    row = 0
    for batch in source_batches(source, cols, 262_144):
        for col, role in ((label, "label"), (prediction, "prediction"), (score, "score")):
            if col is not None:
                _check_values(batch.column(col), col, role, row)
        if id_column is not None and batch.column(id_column).null_count:
            raise InvalidArgument(f"column {id_column!r} (example id) has null values")
        y = batch.column(label)
        if math.isnan(first_label) and _kind(y.type) != "str":
            first_label = float(pc.cast(y, pa.float64())[0].as_py())
        if pa.types.is_floating(y.type) and integral:
            integral = bool(pc.all(pc.equal(y, pc.floor(y))).as_py())
        classes.append(_plain(pc.unique(y)))
        if prediction is not None:
            classes.append(_plain(pc.unique(batch.column(prediction))))
        if score is not None:
            s = pc.cast(batch.column(score), pa.float64()).to_numpy(zero_copy_only=False)
            in_unit = in_unit and bool(((s >= 0) & (s <= 1)).all())
            start = (-row) % stride
            samples.append(s[start::stride])
        for c in cats:
            distinct[c].append(_plain(pc.unique(batch.column(c))))
        row += batch.num_rows
    edges: tuple[float, ...] = ()
    if samples:
        sample = np.concatenate(samples)
        q = np.quantile(sample, np.linspace(0, 1, SCORE_BINS + 1)[1:-1])
        edges = tuple(float(x) for x in np.unique(q))
    kinds = {_kind(a.type) for a in classes}
    if len(kinds) > 1 and "str" not in kinds:
        classes = [pc.cast(a, pa.float64()) for a in classes]
    return {
        "classes": classes,
        "slices": {c: pc.unique(pa.concat_arrays(v)) for c, v in distinct.items()},
        "score_edges": edges,
        "score_in_unit": in_unit,
        "label_integral": integral,
        "first_label": 0.0 if math.isnan(first_label) else first_label,
    }


def _plain(a: pa.Array) -> pa.Array:
    return a.dictionary_decode() if pa.types.is_dictionary(a.type) else a


def _check_values(arr: pa.Array, column: str, role: str, row: int) -> None:
    if arr.null_count:
        first = row + int(np.flatnonzero(np.asarray(arr.is_null()))[0])
        raise InvalidArgument(
            f"column {column!r} ({role}) has {arr.null_count} null values (first at row {first})"
        )
    if pa.types.is_floating(arr.type):
        nan = np.isnan(arr.to_numpy(zero_copy_only=False))
        if nan.any():
            raise InvalidArgument(
                f"column {column!r} ({role}) has {int(nan.sum())} NaN values "
                f"(first at row {row + int(np.flatnonzero(nan)[0])})"
            )
