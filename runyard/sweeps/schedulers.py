"""Scheduler names → Optuna pruners: the early stopping of hopeless trials.

``asha`` is Optuna's asynchronous successive halving with Ray Tune's ``ASHAScheduler``
defaults (first rung after step 1, reduction factor 4), ``hyperband`` its Hyperband,
``median`` its median-stopping rule; ``None`` never stops a trial early.

Example:
    >>> type(make_pruner("asha")).__name__
    'SuccessiveHalvingPruner'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from runyard.errors import InvalidArgument

if TYPE_CHECKING:
    from optuna.pruners import BasePruner

__all__ = ["PRUNE_ON", "SCHEDULER_NAMES", "best_so_far", "check_prune_on", "make_pruner",
           "needs_histories"]  # fmt: skip

SCHEDULER_NAMES = ("asha", "hyperband", "median")
PRUNE_ON = ("best", "last")
"""What a scheduler compares: a trial's best value so far, or its latest report."""


def check_prune_on(prune_on: str) -> str:
    """``prune_on`` if it is one of :data:`PRUNE_ON`.

    Raises:
        InvalidArgument: anything else.
    """
    if prune_on not in PRUNE_ON:
        raise InvalidArgument(f"prune_on must be 'best' or 'last', got {prune_on!r}")
    return prune_on


def best_so_far(values: Mapping[int, float], direction: str) -> dict[int, float]:
    """Step → the best of the values reported up to that step (``maximize`` or ``minimize``).

    A NaN stays at its own step (pruners take it as the worst value) and is skipped after it.

    Example:
        >>> best_so_far({1: 0.5, 2: 0.9, 3: 0.7}, "maximize")
        {1: 0.5, 2: 0.9, 3: 0.9}
    """
    pick = max if direction == "maximize" else min
    out: dict[int, float] = {}
    best: float | None = None
    for step in sorted(values):
        value = values[step]
        if math.isnan(value):
            out[step] = value
            continue
        best = value if best is None else pick(best, value)
        out[step] = best
    return out


def make_pruner(spec: str | BasePruner | None) -> BasePruner | None:
    """An Optuna pruner from a name (or an Optuna pruner, returned as is; None for none).

    Raises:
        InvalidArgument: an unknown name.
    """
    import optuna.pruners as p

    if spec is None or isinstance(spec, p.BasePruner):
        return None if isinstance(spec, p.NopPruner) else spec
    name = spec.lower() if isinstance(spec, str) else None
    if name in ("asha", "successive_halving"):
        # Ray Tune's ASHAScheduler defaults: first rung after one step, keep the top quarter
        return p.SuccessiveHalvingPruner(min_resource=1, reduction_factor=4)
    if name == "hyperband":
        return p.HyperbandPruner()
    if name == "median":
        return p.MedianPruner()
    if name in ("none", "fifo"):
        return None
    raise InvalidArgument(
        f"unknown scheduler {spec!r}; use one of {', '.join(SCHEDULER_NAMES)}, None, "
        "or pass an optuna.pruners.BasePruner"
    )


def needs_histories(pruner: BasePruner) -> bool:
    """False for pruners that only read each other trial's last step and rung values.

    Successive halving and Hyperband compare rung values (kept as system attributes) and
    look at the last step of finished trials; the others (median, percentile, patience,
    threshold, Wilcoxon, custom ones) read whole intermediate-value histories.
    """
    import optuna.pruners as p

    return not isinstance(pruner, p.SuccessiveHalvingPruner | p.HyperbandPruner)
