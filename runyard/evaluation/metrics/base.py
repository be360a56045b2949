"""The metric contract: every metric is a mergeable accumulator built from *tallies*.

A :class:`Tally` is a weighted count (or weighted sum of a per-row value) keyed by a small
integer code per row, e.g. the confusion cell ``y * K + y_hat`` or a score bin. Tallies are
plain sums, so their states from two shards add up exactly to the state of the union. A
:class:`Metric` names the tallies it needs and turns them into a value; the engine fuses the
tallies of all requested metrics into one pass over each batch (one sparse product against
the bootstrap weights), so adding a metric costs little.

For use on its own, every metric is also a classic accumulator::

    state = metric.init(ctx, n_groups=1)
    metric.update(state, view, groups)      # once per batch
    state = metric.merge(state, other)      # exact
    value = metric.result(state)            # shape (n_groups, replicates + 1)

Thread-safety: metric objects are immutable and may be shared; states are plain dicts of
numpy arrays owned by the caller.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = ["BatchView", "Metric", "Tally", "TaskContext"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Task = Literal["binary", "multiclass", "regression"]


@dataclass(frozen=True, slots=True)
class TaskContext:
    """What every batch of one evaluation shares (fixed before the first batch is read).

    Attributes:
        task: binary, multiclass or regression.
        classes: the sorted class values (classification), as strings for display.
        positive: index of the positive class in ``classes`` (binary).
        score_edges: inner edges of the score bins used for ranking-metric replicates.
        ece_bins: number of equal-width probability bins of the calibration error.
        label_shift: a constant subtracted from regression labels before squaring (stability).
    """

    task: Task
    classes: tuple[str, ...] = ()
    positive: int = 1
    score_edges: tuple[float, ...] = ()
    ece_bins: int = 15
    label_shift: float = 0.0

    @property
    def n_classes(self) -> int:
        """Number of classes (0 for regression)."""
        return len(self.classes)


@dataclass(frozen=True, slots=True)
class BatchView:
    """The columns of one batch, decoded once and shared by every metric.

    Attributes:
        y: class codes (classification) or float labels (regression).
        y_hat: predicted class codes or float predictions; None when not given.
        score: probability of the positive class (or a real-valued score); None when absent.
        columns: the raw batch columns by name (for user metrics).
    """

    y: npt.NDArray[Any]
    y_hat: npt.NDArray[Any] | None
    score: FloatArray | None
    columns: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Rows in the batch."""
        return int(self.y.shape[0])

    def positive(self, ctx: TaskContext) -> FloatArray:
        """1.0 where the label is the positive class, else 0.0."""
        return np.asarray(self.y == ctx.positive, dtype=np.float64)


TallyFn = Callable[[BatchView, TaskContext], tuple[IntArray | None, FloatArray | None]]


@dataclass(frozen=True, slots=True)
class Tally:
    """A keyed weighted sum that metrics share by name.

    Attributes:
        name: identity; two metrics asking for the same name share one tally.
        size: number of codes (the key runs over ``0..size-1``).
        fn: ``(view, ctx) -> (codes, values)``; codes None means all 0, values None means 1
            (a weighted count).
    """

    name: str
    size: int
    fn: TallyFn


class Metric(abc.ABC):
    """A metric as a mergeable accumulator over tallies.

    Subclasses set ``name``, ``greater_is_better`` and ``needs`` and implement
    :meth:`tallies` and :meth:`compute`. ``compute`` is vectorised: each tally arrives as an
    array of shape ``(groups, size, replicates + 1)`` (replicate 0 holds unit weights, i.e.
    the point estimate) and it returns ``(groups, replicates + 1)``.

    Example:
        >>> import numpy as np
        >>> from runyard.evaluation.metrics import get_metric
        >>> from runyard.evaluation.metrics.base import BatchView, TaskContext
        >>> ctx = TaskContext("binary", classes=("0", "1"))
        >>> acc = get_metric("accuracy")
        >>> state = acc.init(ctx, n_groups=1)
        >>> y = np.array([0, 1, 1]); acc.update(state, BatchView(y, np.array([0, 1, 0]), None), ctx)
        >>> float(acc.result(state, ctx)[0, 0])
        0.6666666666666666
    """

    name: str = "metric"
    greater_is_better: bool = True
    needs: frozenset[str] = frozenset({"label", "prediction"})
    tasks: frozenset[str] = frozenset({"binary", "multiclass"})

    @abc.abstractmethod
    def tallies(self, ctx: TaskContext) -> tuple[Tally, ...]:
        """The tallies this metric is computed from."""

    @abc.abstractmethod
    def compute(self, tallies: Mapping[str, FloatArray], ctx: TaskContext) -> FloatArray:
        """Metric values from tallies of shape (groups, size, R + 1) → (groups, R + 1)."""

    def exact(self, scores: FloatArray, pos: FloatArray, neg: FloatArray) -> float | None:
        """An exact point value from per-distinct-score counts, for metrics that need one."""
        return None

    @property
    def uses_score_counts(self) -> bool:
        """True when the point value comes from :meth:`exact` (ranking metrics)."""
        return False

    # -- the accumulator protocol, for using one metric on its own -------------------------

    def init(self, ctx: TaskContext, n_groups: int = 1, replicates: int = 0) -> dict[str, Any]:
        """An empty state for ``n_groups`` groups and ``replicates`` bootstrap replicates."""
        return {t.name: np.zeros((n_groups, t.size, replicates + 1)) for t in self.tallies(ctx)}

    def update(
        self,
        state: dict[str, Any],
        view: BatchView,
        ctx: TaskContext,
        groups: IntArray | None = None,
        weights: FloatArray | None = None,
    ) -> None:
        """Add one batch; ``weights`` has shape (rows, replicates) (column 0 is implied 1)."""
        g = np.zeros(view.n, dtype=np.int64) if groups is None else groups
        for t in self.tallies(ctx):
            arr = state[t.name]
            codes, values = t.fn(view, ctx)
            key = g * t.size + (0 if codes is None else codes)
            v = np.ones(view.n) if values is None else values
            flat = arr.reshape(-1, arr.shape[2])
            flat[:, 0] += np.bincount(key, weights=v, minlength=flat.shape[0])
            if weights is not None:
                for r in range(weights.shape[1]):
                    flat[:, r + 1] += np.bincount(
                        key, weights=v * weights[:, r], minlength=len(flat)
                    )

    def merge(self, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        """The state of the union of the data behind ``a`` and ``b`` (exact)."""
        return {k: a[k] + b[k] for k in a}

    def result(self, state: Mapping[str, Any], ctx: TaskContext) -> FloatArray:
        """Values of shape (groups, replicates + 1); column 0 is the point estimate."""
        return self.compute(state, ctx)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def safe_div(num: FloatArray, den: FloatArray, fill: float = 0.0) -> FloatArray:
    """``num / den`` with ``fill`` where ``den`` is 0."""
    out = np.full(np.broadcast(num, den).shape, fill, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out
