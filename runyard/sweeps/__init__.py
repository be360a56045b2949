"""Sweeps: Optuna's samplers and pruners, runyard's executors and tracking, resumable by name.

Example:
    >>> import runyard.sweeps as rs
    >>> def objective(trial):
    ...     return -((trial.params["x"] - 2) ** 2)
    >>> result = rs.sweep(objective, {"x": rs.uniform(-5, 5)}, trials=5)  # doctest: +SKIP
    >>> result.best.params  # doctest: +SKIP
"""

from runyard.sweeps.progress import SweepProgress
from runyard.sweeps.records import BestTrial, TrialRecord, TrialState
from runyard.sweeps.result import Sweep, load_sweep
from runyard.sweeps.space import choice, loguniform, qint, quniform, randint, uniform
from runyard.sweeps.sweep import sweep
from runyard.sweeps.trial import Trial, TrialPruned

__all__ = [
    "BestTrial",
    "Sweep",
    "SweepProgress",
    "Trial",
    "TrialPruned",
    "TrialRecord",
    "TrialState",
    "choice",
    "load_sweep",
    "loguniform",
    "qint",
    "quniform",
    "randint",
    "sweep",
    "uniform",
]
