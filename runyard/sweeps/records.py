"""Frozen values of a sweep: trial states, trial records, the best trial, and the tag names.

Everything here is what the tracking store holds about a sweep, decoded; nothing here
talks to a store.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "BestTrial",
    "TrialOutcome",
    "TrialRecord",
    "TrialState",
    "Tags",
]


class TrialState(enum.StrEnum):
    """Where a trial stands. Every state but RUNNING is final."""

    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    FAILED = "FAILED"


class Tags:
    """The tag and param names a sweep writes to the tracking store."""

    SWEEP_NAME = "runyard.sweep.name"
    SWEEP_TRIALS = "runyard.sweep.trials"
    SWEEP_SAMPLER = "runyard.sweep.sampler"
    SWEEP_SCHEDULER = "runyard.sweep.scheduler"
    SWEEP_SPACE = "runyard.sweep.space"
    SWEEP_STATE = "runyard.sweep.state"
    HEARTBEAT = "runyard.sweep.heartbeat."
    """Prefix: one tag per driver, its value the last heartbeat in ms since the epoch."""
    CLAIM = "runyard.trial."
    """Prefix of the sweep run's params that claim trial numbers (value: the trial run id)."""
    NUMBER = "runyard.trial.number"
    ATTEMPT = "runyard.trial.attempt"
    STATE = "runyard.trial.state"
    REASON = "runyard.trial.reason"
    TRACEBACK = "runyard.trial.traceback"
    VALUE = "runyard.trial.value"
    DRIVER = "runyard.trial.driver"
    PARAMS = "runyard.trial.params"
    """JSON: parameter name → Optuna internal value."""
    DISTRIBUTIONS = "runyard.trial.distributions"
    """JSON: parameter name → ``optuna.distributions.distribution_to_json``."""
    SYSTEM_ATTRS = "runyard.trial.system_attrs"
    """JSON: the pruner's per-trial state (e.g. ASHA's ``completed_rung_<k>`` values)."""
    SUPERSEDED = "runyard.trial.superseded_by"
    LOST = "runyard.trial.lost"
    """Set when the trial's driver went away while it ran; such a trial is run again."""


@dataclass(frozen=True, slots=True)
class TrialRecord:
    """One trial as the tracking store holds it.

    Attributes:
        number: the trial number (0 to ``trials - 1``), unique within the sweep.
        run_id: the trial's child run.
        state: RUNNING, COMPLETE, PRUNED or FAILED.
        value: the objective's value (COMPLETE) or the last reported value (PRUNED).
        params: every sampled parameter, with its Python value.
        distributions: parameter name → Optuna distribution JSON.
        last_step: the last reported step, None when nothing was reported.
        last_value: the value reported at ``last_step``.
        steps: how many values were reported.
        start_time: milliseconds since the epoch.
        end_time: milliseconds since the epoch, None while running.
        reason: why it stopped (``completed``, ``pruned at step 3 ...``, the error).
        driver: the id of the driver that launched it.
        attempt: 0, or how many times it was re-run after its driver was lost.
        system_attrs: the pruner's per-trial state.
        superseded_by: the run that re-ran this trial, when its driver was lost.
    """

    number: int
    run_id: str
    state: TrialState
    value: float | None
    params: Mapping[str, Any]
    distributions: Mapping[str, str]
    last_step: int | None
    last_value: float | None
    steps: int
    start_time: int
    end_time: int | None
    reason: str = ""
    driver: str = ""
    attempt: int = 0
    system_attrs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    superseded_by: str | None = None
    lost: bool = False

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end, None while running."""
        return None if self.end_time is None else (self.end_time - self.start_time) / 1000


@dataclass(frozen=True, slots=True)
class TrialOutcome:
    """What a finished trial hands back to its driver.

    Attributes:
        number: the trial number.
        state: COMPLETE, PRUNED or FAILED.
        value: the objective's value, or the last reported value of a pruned trial.
        intermediate: (step, value) pairs reported, in order.
        params: every parameter, define-by-run ones included, as Optuna internal values.
        distributions: parameter name → Optuna distribution JSON.
        reason: why it stopped.
        traceback: the formatted traceback of a failure ("" otherwise).
        error: the objective's exception, when it could travel back.
    """

    number: int
    state: TrialState
    value: float | None
    intermediate: tuple[tuple[int, float], ...]
    params: Mapping[str, float]
    distributions: Mapping[str, str]
    reason: str
    traceback: str = ""
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class BestTrial:
    """The best finished trial of a sweep.

    Attributes:
        params: its parameters.
        value: its objective value.
        run_id: its tracked run.
        number: its trial number.
    """

    params: Mapping[str, Any]
    value: float
    run_id: str
    number: int
