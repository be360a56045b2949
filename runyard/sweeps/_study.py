"""In-memory Optuna studies rebuilt from the trials the tracking store holds.

The tracking store is the sweep's only storage. Optuna's samplers and pruners see a plain
in-memory study that is rebuilt from it: the driver's study once at start (plus the trials
other drivers finish), a pruning study at each ``trial.report`` in the worker, a sampling
study for define-by-run parameters. Trial numbers in a pruning study are the sweep's trial
numbers (gaps filled with failed placeholders) so that Hyperband puts each trial in the
same bracket whichever process asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from runyard.sweeps.records import TrialOutcome, TrialRecord, TrialState

if TYPE_CHECKING:
    import optuna
    from optuna.pruners import BasePruner
    from optuna.samplers import BaseSampler
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial

__all__ = ["new_study", "pruning_study", "record_outcome", "to_frozen"]


def quiet_optuna() -> int:
    """Silence Optuna's per-trial INFO lines (runyard tracks trials); returns the old level."""
    import optuna

    level: int = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return level


def new_study(
    name: str,
    direction: str,
    sampler: BaseSampler | None = None,
    pruner: BasePruner | None = None,
) -> tuple[optuna.Study, BaseStorage]:
    """An empty in-memory study and its storage."""
    import optuna

    storage = optuna.storages.InMemoryStorage()
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction="maximize" if direction == "maximize" else "minimize",
        sampler=sampler,
        pruner=pruner,
    )
    return study, storage


def _state(state: TrialState) -> Any:
    from optuna.trial import TrialState as OptunaState

    return {
        TrialState.RUNNING: OptunaState.RUNNING,
        TrialState.COMPLETE: OptunaState.COMPLETE,
        TrialState.PRUNED: OptunaState.PRUNED,
        TrialState.FAILED: OptunaState.FAIL,
    }[state]


def to_frozen(
    record: TrialRecord,
    intermediate: Mapping[int, float] | None = None,
    system_attrs: Mapping[str, Any] | None = None,
) -> FrozenTrial:
    """An Optuna trial for a tracked one.

    Without ``intermediate``, the last reported value stands for the history: enough for
    successive halving and Hyperband, which read only the last step of other trials.
    """
    from optuna.distributions import json_to_distribution
    from optuna.trial import create_trial

    dists = {k: json_to_distribution(v) for k, v in record.distributions.items()}
    if intermediate is None:
        last = record.last_value
        intermediate = {} if record.last_step is None or last is None else {record.last_step: last}
    value = record.value if record.state is TrialState.COMPLETE else None
    state = record.state
    if state is TrialState.COMPLETE and value is None:
        state = TrialState.FAILED
    return create_trial(
        state=_state(state),
        value=value,
        params={k: v for k, v in record.params.items() if k in dists},
        distributions={k: d for k, d in dists.items() if k in record.params},
        intermediate_values=dict(intermediate),
        system_attrs=dict(system_attrs if system_attrs is not None else record.system_attrs),
    )


def add_records(
    study: optuna.Study,
    records: Iterable[TrialRecord],
    histories: Mapping[str, Mapping[int, float]] | None = None,
) -> None:
    """Add finished tracked trials to a study (their histories when given)."""
    study.add_trials(
        [
            to_frozen(r, None if histories is None else histories.get(r.run_id, {}))
            for r in records
            if r.state is not TrialState.RUNNING
        ]
    )


def pruning_study(
    name: str,
    direction: str,
    pruner: BasePruner,
    others: Iterable[TrialRecord],
    live: TrialRecord,
    intermediate: Mapping[int, float],
    histories: Mapping[str, Mapping[int, float]] | None,
) -> tuple[optuna.Study, FrozenTrial]:
    """A study numbered like the sweep, holding ``live`` as its running trial."""
    from optuna.trial import TrialState as OptunaState
    from optuna.trial import create_trial

    by_number = {r.number: r for r in others if r.number != live.number}
    size = max([live.number, *by_number]) + 1
    frozen = []
    for n in range(size):
        if n == live.number:
            frozen.append(to_frozen(live, intermediate))
        elif n in by_number:
            r = by_number[n]
            frozen.append(to_frozen(r, None if histories is None else histories.get(r.run_id, {})))
        else:
            frozen.append(create_trial(state=OptunaState.FAIL))
    study, _ = new_study(name, direction, pruner=pruner)
    study.add_trials(frozen)
    return study, study.get_trials(deepcopy=False)[live.number]


def record_outcome(
    study: optuna.Study, storage: BaseStorage, trial: optuna.trial.Trial, outcome: TrialOutcome
) -> None:
    """Tell the driver's study how one of its asked trials ended."""
    from optuna.distributions import json_to_distribution
    from optuna.trial import TrialState as OptunaState

    study_id = storage.get_study_id_from_name(study.study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
    for name, internal in outcome.params.items():
        if name not in trial.params and name in outcome.distributions:
            dist = json_to_distribution(outcome.distributions[name])
            storage.set_trial_param(trial_id, name, internal, dist)
    for step, value in dict(outcome.intermediate).items():
        trial.report(value, step)
    if outcome.state is TrialState.COMPLETE and outcome.value is not None:
        study.tell(trial, outcome.value)
    elif outcome.state is TrialState.PRUNED:
        study.tell(trial, state=OptunaState.PRUNED)
    else:
        study.tell(trial, state=OptunaState.FAIL)
