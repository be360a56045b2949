"""The handle an objective receives: its parameters, ``report`` and ``suggest_*``.

A :class:`Trial` lives wherever the executor runs the objective (this thread, a worker
process, a Ray worker). Everything it learns or decides goes through the tracking store:
``report`` appends the value to the trial run's metric series, then asks the sweep's
Optuna pruner whether to stop, on a study rebuilt from the values every trial of the
sweep has stored. So the decision is the same whichever process makes it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runyard.entities import Metric
from runyard.errors import InvalidArgument
from runyard.sweeps.records import Tags, TrialRecord, TrialState
from runyard.sweeps.space import Choice, ParamType, choice, randint, uniform
from runyard.sweeps.state import SweepHandle, SweepState

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution
    from optuna.pruners import BasePruner
    from optuna.samplers import BaseSampler

    from runyard.tracking.client import Run

__all__ = ["Trial", "TrialPruned", "TrialSpec"]


class TrialPruned(Exception):  # noqa: N818 - the name Optuna and Ray users know
    """Raised inside an objective to stop its trial early; the trial ends PRUNED.

    ``trial.report`` raises it when the scheduler stops the trial. It is a control-flow
    signal, not an error, so it is not part of the :mod:`runyard.errors` tree; Optuna's
    own ``optuna.TrialPruned`` is accepted as well.
    """


@dataclass(frozen=True, slots=True)
class TrialSpec:
    """Everything a worker needs to run one trial (it travels pickled).

    Attributes:
        tracking_uri: the tracking store.
        artifact_uri: the artifact store.
        sweep: the sweep.
        run_id: the trial's run.
        number: the trial number.
        attempt: 0, or which re-run this is.
        params: the parameters sampled by the driver.
        internal: the same as Optuna internal values.
        distributions: parameter name → Optuna distribution JSON.
        pruner: the Optuna pruner, or None.
        sampler: the Optuna sampler (for define-by-run parameters).
        study_name: the name pruning studies get (Hyperband's brackets hash it).
        prune_on: ``best``: the pruner sees each trial's best value so far at every step;
            ``last``: the value reported at that step.
    """

    tracking_uri: str
    artifact_uri: str | None
    sweep: SweepHandle
    run_id: str
    number: int
    attempt: int
    params: Mapping[str, Any]
    internal: Mapping[str, float]
    distributions: Mapping[str, str]
    pruner: BasePruner | None
    sampler: BaseSampler | None
    study_name: str
    prune_on: str = "best"


class Trial:
    """One trial of a sweep, as its objective sees it.

    Example:
        >>> def objective(trial):  # doctest: +SKIP
        ...     lr = trial.params["lr"]
        ...     layers = trial.suggest_int("layers", 1, 3)  # define-by-run
        ...     for epoch in range(10):
        ...         trial.report(train_one_epoch(lr, layers), step=epoch)  # may stop here
        ...     return evaluate()
    """

    def __init__(self, spec: TrialSpec, state: SweepState, run: Run | None = None) -> None:
        self._spec = spec
        self._state = state
        self._run = run
        self._params: dict[str, Any] = dict(spec.params)
        self._internal: dict[str, float] = dict(spec.internal)
        self._dists: dict[str, str] = dict(spec.distributions)
        self._intermediate: dict[int, float] = {}
        self._system_attrs: dict[str, Any] = {}
        self._should_prune = False
        self._prune_reason = ""
        self._sampling: tuple[optuna.Study, optuna.trial.Trial] | None = None

    # -- identity -----------------------------------------------------------------------

    @property
    def number(self) -> int:
        """The trial number within the sweep."""
        return self._spec.number

    @property
    def run_id(self) -> str:
        """The id of the trial's tracked run."""
        return self._spec.run_id

    @property
    def run(self) -> Run | None:
        """The trial's tracked run: log more metrics, params or artifacts to it."""
        return self._run

    @property
    def params(self) -> dict[str, Any]:
        """The trial's parameters (a copy), define-by-run ones included once suggested."""
        return dict(self._params)

    @property
    def intermediate_values(self) -> dict[int, float]:
        """Step → value, for every value reported so far."""
        return dict(self._intermediate)

    # -- reporting and pruning ------------------------------------------------------------

    def report(self, value: float, step: int) -> None:
        """Record ``value`` at ``step``; raise :class:`TrialPruned` if the scheduler says stop.

        The value is logged to the trial run as the sweep's metric before the scheduler is
        asked, so the decision of every other trial sees it.

        Raises:
            TrialPruned: the scheduler stopped the trial.
            InvalidArgument: ``value`` is not a number or ``step`` not an integer.
        """
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise InvalidArgument(f"trial.report: step must be an integer >= 0, got {step!r}")
        try:
            number = float(value)
        except (TypeError, ValueError) as e:
            raise InvalidArgument(f"trial.report: value must be a number, got {value!r}") from e
        self._intermediate[step] = number
        metric = Metric(self._spec.sweep.metric, number, step, int(time.time() * 1000))
        self._state.store.log_batch(self.run_id, metrics=[metric])
        if self._spec.pruner is not None:
            self._ask_pruner(step, number)
        if self._should_prune:
            raise TrialPruned(self._prune_reason)

    def encoded_params(self) -> tuple[dict[str, float], dict[str, str]]:
        """Every parameter as Optuna internal values, and their distributions as JSON."""
        return dict(self._internal), dict(self._dists)

    def should_prune(self) -> bool:
        """Whether the scheduler stopped this trial at the last report."""
        return self._should_prune

    def _ask_pruner(self, step: int, value: float) -> None:
        from runyard.sweeps._study import pruning_study
        from runyard.sweeps.schedulers import best_so_far, needs_histories

        pruner = self._spec.pruner
        if pruner is None:
            return
        others = [r for r in self._state.trials() if r.number != self.number]
        direction = self._spec.sweep.direction
        judged: Mapping[int, float] = self._intermediate
        histories = None
        if needs_histories(pruner):
            histories = self._state.histories([r.run_id for r in others if r.steps])
        if self._spec.prune_on == "best":
            judged = best_so_far(judged, direction)
            if histories is not None:
                histories = {k: best_so_far(h, direction) for k, h in histories.items()}
        study, live = pruning_study(
            self._spec.study_name, direction, pruner, others, self._as_record(), judged, histories
        )
        prune = pruner.prune(study, live)
        attrs = dict(study.get_trials(deepcopy=False)[self.number].system_attrs)
        if attrs != self._system_attrs:
            self._system_attrs = attrs
            self._state.store.log_batch(self.run_id, tags={Tags.SYSTEM_ATTRS: json.dumps(attrs)})
        if prune:
            self._should_prune = True
            kind = type(pruner).__name__
            seen = f"{self._spec.sweep.metric}={value:.6g}"
            if not (judged[step] == value or math.isnan(value)):
                seen += f", best so far {judged[step]:.6g}"
            self._prune_reason = f"pruned at step {step} by {kind} ({seen})"

    def _as_record(self) -> TrialRecord:
        return TrialRecord(
            number=self.number,
            run_id=self.run_id,
            state=TrialState.RUNNING,
            value=None,
            params=self._params,
            distributions=self._dists,
            last_step=max(self._intermediate, default=None),
            last_value=None,
            steps=len(self._intermediate),
            start_time=0,
            end_time=None,
            system_attrs=self._system_attrs,
        )

    # -- define-by-run --------------------------------------------------------------------

    def suggest(self, name: str, param: ParamType) -> Any:
        """Sample (once) a parameter of a runyard type; later calls return the same value."""
        from optuna.distributions import distribution_to_json

        if name in self._params:
            return self._params[name]
        study, otrial = self._sampling_trial()
        dist = param.to_optuna()
        value = _suggest_with(otrial, name, dist)
        self._params[name] = value
        self._internal[name] = dist.to_internal_repr(value)
        self._dists[name] = distribution_to_json(dist)
        self._state.store.log_batch(
            self.run_id,
            params={name: str(value)},
            tags={
                Tags.PARAMS: json.dumps(self._internal),
                Tags.DISTRIBUTIONS: json.dumps(self._dists),
            },
        )
        return value

    def suggest_float(
        self, name: str, low: float, high: float, *, log: bool = False, step: float | None = None
    ) -> float:
        """A float parameter in ``[low, high]`` (Optuna's ``suggest_float``)."""
        from runyard.sweeps.space import Float

        param = uniform(low, high)
        return float(self.suggest(name, Float(param.low, param.high, log=log, step=step)))

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        """An integer parameter in ``[low, high]`` (Optuna's ``suggest_int``)."""
        from runyard.sweeps.space import Int

        randint(low, high)
        return int(self.suggest(name, Int(low, high, log=log, step=step)))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        """One of ``choices`` (Optuna's ``suggest_categorical``)."""
        param: Choice = choice(choices)
        return self.suggest(name, param)

    def _sampling_trial(self) -> tuple[optuna.Study, optuna.trial.Trial]:
        if self._sampling is None:
            from optuna.distributions import json_to_distribution

            from runyard.sweeps._study import add_records, new_study

            sampler = self._spec.sampler
            if sampler is not None:
                sampler.reseed_rng()
            study, _ = new_study(self._spec.study_name, self._spec.sweep.direction, sampler)
            records = [r for r in self._state.trials() if r.number != self.number]
            add_records(study, records, self._state.histories([r.run_id for r in records]))
            if self._params:
                study.enqueue_trial(dict(self._params), skip_if_exists=False)
            otrial = study.ask()
            for key in self._params:
                _suggest_with(otrial, key, json_to_distribution(self._dists[key]))
            self._sampling = (study, otrial)
        return self._sampling

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, params={self._params!r})"


def _suggest_with(trial: optuna.trial.Trial, name: str, dist: BaseDistribution) -> Any:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    raise InvalidArgument(f"parameter {name!r} has an unsupported distribution {dist!r}")


def finite(value: object) -> float | None:
    """``value`` as a finite float, or None."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
