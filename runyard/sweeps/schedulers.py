"""Scheduler names → Optuna pruners: the early stopping of hopeless trials.

``asha`` is Optuna's asynchronous successive halving, ``hyperband`` its Hyperband,
``median`` its median-stopping rule; ``None`` never stops a trial early.

Example:
    >>> type(make_pruner("asha")).__name__
    'SuccessiveHalvingPruner'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runyard.errors import InvalidArgument

if TYPE_CHECKING:
    from optuna.pruners import BasePruner

__all__ = ["SCHEDULER_NAMES", "make_pruner", "needs_histories"]

SCHEDULER_NAMES = ("asha", "hyperband", "median")


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
        return p.SuccessiveHalvingPruner()
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
