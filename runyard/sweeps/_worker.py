"""What runs on the executor for one trial: the objective inside its run, and its outcome.

The objective's own exceptions never escape: a failure is recorded on the trial run (state
FAILED, the reason, the traceback) and handed back as a :class:`TrialOutcome`, so the
driver goes on with the sweep. Only a lost worker reaches the driver as an exception.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from runyard.entities import RunStatus
from runyard.sweeps.records import Tags, TrialOutcome, TrialState
from runyard.sweeps.state import SweepState, clip
from runyard.sweeps.trial import Trial, TrialPruned, TrialSpec, finite

__all__ = ["run_trial"]


def _is_pruned(error: BaseException) -> bool:
    if isinstance(error, TrialPruned):
        return True
    try:
        import optuna
    except ImportError:  # pragma: no cover - optuna is a sweeps requirement
        return False
    return isinstance(error, optuna.TrialPruned)


def run_trial(spec: TrialSpec, objective: Callable[[Trial], Any]) -> TrialOutcome:
    """Run ``objective`` for the trial ``spec`` describes and record how it ended."""
    from runyard.sweeps._study import quiet_optuna
    from runyard.tracking.client import start_run

    quiet_optuna()
    run = start_run(
        run_id=spec.run_id,
        tracking_uri=spec.tracking_uri,
        artifact_uri=spec.artifact_uri,
    )
    state = SweepState(run.store, spec.sweep)
    trial = Trial(spec, state, run)
    value: float | None = None
    tb_text = ""
    error: BaseException | None = None
    with run:
        try:
            result = objective(trial)
        except BaseException as e:
            if isinstance(e, KeyboardInterrupt | SystemExit):
                raise
            if _is_pruned(e):
                outcome_state = TrialState.PRUNED
                reason = str(e) or "pruned by the objective"
                steps = trial.intermediate_values
                value = steps[max(steps)] if steps else None
            else:
                outcome_state = TrialState.FAILED
                reason = f"{type(e).__name__}: {e}"
                tb_text = traceback.format_exc()
                error = e
        else:
            value = finite(result)
            if value is None:
                outcome_state = TrialState.FAILED
                reason = f"the objective returned {result!r}, not a finite number"
            else:
                outcome_state = TrialState.COMPLETE
                reason = "completed"
        tags = {Tags.STATE: outcome_state.value, Tags.REASON: clip(reason)}
        if value is not None:
            tags[Tags.VALUE] = repr(value)
        if tb_text:
            tags[Tags.TRACEBACK] = clip(tb_text)
        run.flush()
        state.store.log_batch(spec.run_id, tags=tags)
        run.end(RunStatus.FAILED if outcome_state is TrialState.FAILED else RunStatus.FINISHED)
    internal, dists = trial.encoded_params()
    return TrialOutcome(
        number=spec.number,
        state=outcome_state,
        value=value,
        intermediate=tuple(trial.intermediate_values.items()),
        params=internal,
        distributions=dists,
        reason=reason,
        traceback=tb_text,
        error=_portable(error),
    )


def _portable(error: BaseException | None) -> BaseException | None:
    """The error when it survives pickling (it travels back from a worker), else None."""
    if error is None:
        return None
    try:
        import cloudpickle  # type: ignore[import-untyped]

        cloudpickle.loads(cloudpickle.dumps(error))
    except Exception:  # noqa: BLE001 - an unpicklable error stays behind; its text travels
        return None
    return error.with_traceback(None)
