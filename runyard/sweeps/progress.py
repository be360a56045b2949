"""Live counts of a sweep for progress displays: running, done, pruned, failed, best so far."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from runyard.sweeps.records import TrialOutcome, TrialRecord, TrialState

__all__ = ["ProgressTracker", "SweepProgress"]


@dataclass(frozen=True, slots=True)
class SweepProgress:
    """A snapshot of a sweep's progress, handed to ``on_progress`` callbacks.

    Attributes:
        name: the sweep name.
        total: the sweep's number of trials.
        running: trials running now.
        complete: trials that completed.
        pruned: trials the scheduler stopped.
        failed: trials that failed.
        best_value: the best objective value so far, None before the first completed trial.
        best_number: the trial number of the best value.
        best_params: its parameters.
    """

    name: str
    total: int
    running: int = 0
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    best_value: float | None = None
    best_number: int | None = None
    best_params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def finished(self) -> int:
        """Trials that ended, whatever the way."""
        return self.complete + self.pruned + self.failed


class ProgressTracker:
    """Keeps the counts a driver reports (not thread-safe; the driver loop owns it)."""

    def __init__(self, name: str, total: int) -> None:
        self.name = name
        self.total = total
        self.states: dict[int, TrialState] = {}
        self.best: tuple[float, int, Mapping[str, Any]] | None = None
        self.maximize = True

    def _offer(self, value: float | None, number: int, params: Mapping[str, Any]) -> None:
        if value is None:
            return
        if self.best is None or (value > self.best[0] if self.maximize else value < self.best[0]):
            self.best = (value, number, dict(params))

    def count(self, records: Iterable[TrialRecord], direction: str = "maximize") -> None:
        """Take the states of trials as the store holds them."""
        self.maximize = direction == "maximize"
        for r in records:
            self.states[r.number] = r.state
            if r.state is TrialState.COMPLETE:
                self._offer(r.value, r.number, r.params)

    def started(self, number: int) -> None:
        """A trial started."""
        self.states[number] = TrialState.RUNNING

    def finished(
        self, number: int, outcome: TrialOutcome, direction: str, params: Mapping[str, Any]
    ) -> None:
        """A trial of this driver ended."""
        self.maximize = direction == "maximize"
        self.states[number] = outcome.state
        if outcome.state is TrialState.COMPLETE:
            self._offer(outcome.value, number, params)

    def snapshot(self) -> SweepProgress:
        """The counts now."""
        counts = {s: 0 for s in TrialState}
        for s in self.states.values():
            counts[s] += 1
        best = self.best
        return SweepProgress(
            self.name,
            self.total,
            counts[TrialState.RUNNING],
            counts[TrialState.COMPLETE],
            counts[TrialState.PRUNED],
            counts[TrialState.FAILED],
            None if best is None else best[0],
            None if best is None else best[1],
            MappingProxyType(dict(best[2])) if best else MappingProxyType({}),
        )
