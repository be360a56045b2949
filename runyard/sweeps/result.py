"""A sweep as the tracking store holds it: its trials, the best one, a table, importances.

Example:
    >>> import runyard as ry
    >>> result = ry.load_sweep("mlp-v1", experiment="digits")  # doctest: +SKIP
    >>> result.best.value, result.best.run_id  # doctest: +SKIP
    (0.97, '3f5c...')
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from runyard.errors import NotFound
from runyard.sweeps.records import BestTrial, TrialRecord, TrialState
from runyard.sweeps.state import SweepHandle, SweepState, find_sweep

__all__ = ["Sweep", "load_sweep"]


class Sweep:
    """A handle on a sweep's state in the tracking store; every read is fresh.

    Args:
        state: the sweep's state.
    """

    def __init__(self, state: SweepState) -> None:
        self._state = state

    @property
    def handle(self) -> SweepHandle:
        """The sweep's identity (run id, experiment, name, metric, direction)."""
        return self._state.handle

    @property
    def name(self) -> str:
        """The sweep's name."""
        return self._state.handle.name

    @property
    def run_id(self) -> str:
        """The id of the sweep run (the parent of every trial run)."""
        return self._state.handle.run_id

    @property
    def status(self) -> str:
        """RUNNING, FINISHED or FAILED."""
        from runyard.sweeps.records import Tags

        return self._state.sweep_run().tags.get(Tags.SWEEP_STATE, "RUNNING")

    @property
    def trials(self) -> list[TrialRecord]:
        """Every trial, by number (the current attempt of a trial that was re-run)."""
        return self._state.trials()

    def counts(self) -> dict[str, int]:
        """Trials by state."""
        out = {s.value: 0 for s in TrialState}
        for r in self.trials:
            out[r.state.value] += 1
        return out

    def leaderboard(self, n: int | None = None) -> list[TrialRecord]:
        """Completed trials from best to worst (the first ``n``)."""
        maximize = self._state.handle.direction == "maximize"
        done = [r for r in self.trials if r.state is TrialState.COMPLETE and r.value is not None]
        done.sort(key=lambda r: (-(r.value or 0.0) if maximize else (r.value or 0.0), r.number))
        return done if n is None else done[:n]

    @property
    def best(self) -> BestTrial:
        """The best completed trial: its params, value, run id and number.

        Raises:
            NotFound: no trial completed yet.
        """
        board = self.leaderboard(1)
        if not board:
            raise NotFound(f"no trial of sweep {self.name!r} has completed yet")
        top = board[0]
        return BestTrial(
            MappingProxyType(dict(top.params)), float(top.value or 0.0), top.run_id, top.number
        )

    def to_pandas(self) -> Any:
        """One row per trial: number, state, value, steps, duration_s, run_id, reason, params.

        Parameters are columns named ``params.<name>``.
        """
        import pandas as pd

        rows = []
        for r in self.trials:
            row: dict[str, Any] = {
                "number": r.number,
                "state": r.state.value,
                "value": r.value,
                "steps": r.steps,
                "duration_s": r.duration_s,
                "run_id": r.run_id,
                "reason": r.reason,
                "attempt": r.attempt,
            }
            row.update({f"params.{k}": v for k, v in r.params.items()})
            rows.append(row)
        return pd.DataFrame(rows)

    def importances(self) -> dict[str, float]:
        """Parameter importances over completed trials (Optuna's default evaluator, fANOVA).

        Returns an empty mapping with fewer than two completed trials.
        """
        from runyard.sweeps._study import add_records, new_study, quiet_optuna

        done = [r for r in self.trials if r.state is TrialState.COMPLETE]
        if len(done) < 2:
            return {}
        import optuna

        level = quiet_optuna()
        try:
            study, _ = new_study(self.run_id, self._state.handle.direction)
            add_records(study, done)
            return dict(optuna.importance.get_param_importances(study))
        except (RuntimeError, ValueError):  # too few distinct values to fit the forest
            return {}
        finally:
            optuna.logging.set_verbosity(level)

    def __repr__(self) -> str:
        return f"Sweep(name={self.name!r}, run_id={self.run_id!r})"


def load_sweep(name: str, experiment: str | None = None, tracking_uri: str | None = None) -> Sweep:
    """Open the sweep called ``name`` (in ``experiment``, else in every experiment).

    Raises:
        NotFound: no such sweep.

    Example:
        >>> import runyard as ry
        >>> ry.load_sweep("mlp-v1", experiment="digits").best  # doctest: +SKIP
    """
    from runyard.tracking.client import Client

    client = Client(tracking_uri)
    experiments = [client.get_experiment(experiment)] if experiment else client.list_experiments()
    for exp in experiments:
        handle = find_sweep(client.store, exp.experiment_id, name)
        if handle is not None:
            return Sweep(SweepState(client.store, handle))
    where = f"experiment {experiment!r}" if experiment else "any experiment"
    raise NotFound(f"no sweep named {name!r} in {where}")
