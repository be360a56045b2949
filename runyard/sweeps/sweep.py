"""``ry.sweep``: the driver. Optuna asks and is told; executors run; the tracking store keeps.

The driver claims trial numbers in the store, asks its Optuna study for parameters, runs
each trial on the executor (where ``trial.report`` logs and consults the pruner), and tells
the study how each trial ended. It keeps nothing the store does not also hold, so a driver
killed at any moment is replaced by running the same call again, and several drivers on
the same sweep share its trials.
"""

from __future__ import annotations

import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runyard.errors import InvalidArgument, RunyardError, UserCodeError
from runyard.executors import Executor, Resources, get_executor
from runyard.sweeps._leases import Heartbeat, driver_alive, new_driver_id
from runyard.sweeps._study import add_records, new_study, quiet_optuna, record_outcome
from runyard.sweeps._worker import run_trial
from runyard.sweeps.progress import ProgressTracker, SweepProgress
from runyard.sweeps.records import Tags, TrialOutcome, TrialRecord, TrialState
from runyard.sweeps.result import Sweep
from runyard.sweeps.samplers import grid_size, make_sampler
from runyard.sweeps.schedulers import check_prune_on, make_pruner
from runyard.sweeps.space import Space, to_optuna
from runyard.sweeps.state import SweepState, clip, now_ms, open_sweep
from runyard.sweeps.trial import Trial, TrialSpec

if TYPE_CHECKING:
    import optuna
    from optuna.pruners import BasePruner
    from optuna.samplers import BaseSampler

__all__ = ["sweep"]

_POLL_S = 0.5


@dataclass(slots=True)
class _Job:
    number: int
    attempt: int
    run_id: str
    otrial: optuna.trial.Trial
    replaces: TrialRecord | None = None


def sweep(
    objective: Callable[[Trial], float],
    space: Space | None = None,
    *,
    metric: str = "objective",
    mode: str = "max",
    sampler: str | BaseSampler | None = "tpe",
    scheduler: str | BasePruner | None = None,
    prune_on: str = "best",
    trials: int = 20,
    concurrency: int = 1,
    executor: str | Executor | None = None,
    experiment: str | None = None,
    name: str | None = None,
    resources: Resources | None = None,
    trial_timeout: float | None = None,
    seed: int | None = None,
    max_consecutive_failures: int = 5,
    tracking_uri: str | None = None,
    artifact_uri: str | None = None,
    on_progress: Callable[[SweepProgress], None] | None = None,
) -> Sweep:
    """Tune ``objective`` over ``space``: every trial a tracked run, resumable by name.

    Args:
        objective: called with a :class:`Trial`; returns the value to optimise. It may call
            ``trial.report(value, step)`` (which raises ``TrialPruned`` when the scheduler
            stops it) and ``trial.suggest_*`` for conditional parameters.
        space: parameter name → ``ry.uniform`` / ``ry.loguniform`` / ``ry.quniform`` /
            ``ry.randint`` / ``ry.qint`` / ``ry.choice``.
        metric: the name of the optimised value (the trial runs' metric series).
        mode: ``max`` or ``min``.
        sampler: ``tpe``, ``random``, ``grid``, ``cmaes``, ``qmc``, ``gp`` or an Optuna sampler.
        scheduler: ``asha`` (successive halving with Ray Tune's defaults: first rung after
            step 1, reduction factor 4), ``hyperband``, ``median``, None, or an Optuna pruner.
        prune_on: what the scheduler compares at each step: ``best``, a trial's best value
            so far (default; a noisy dip does not stop a good trial), or ``last``, the value
            just reported (what Optuna and Ray Tune compare).
        trials: how many trials the sweep has in total (across resumes and drivers).
        concurrency: how many trials run at once.
        executor: ``inline``, ``process``, ``ray`` or an :class:`Executor`; default
            ``inline`` for one trial at a time, else ``process``.
        experiment: the experiment of the sweep run and its trial runs.
        name: the sweep's name; running a sweep with an existing name resumes it.
        resources: what each trial needs from the executor.
        trial_timeout: seconds after which a trial is stopped (executors that support it).
        seed: seeds the sampler.
        max_consecutive_failures: stop with an error after this many failures in a row.
        tracking_uri: the tracking store (default ``$RUNYARD_TRACKING_URI`` or local SQLite).
        artifact_uri: the artifact store.
        on_progress: called with a :class:`SweepProgress` whenever a trial starts or ends.

    Returns:
        The finished :class:`Sweep`: ``best``, ``trials``, ``to_pandas()``.

    Raises:
        InvalidArgument: a bad space, mode, sampler, scheduler or count; or the name
            belongs to a sweep of another metric or mode.
        UserCodeError: ``max_consecutive_failures`` trials failed in a row (the last
            trial's exception is the cause).

    Example:
        >>> import runyard as ry
        >>> def objective(trial):
        ...     x = trial.params["x"]
        ...     return (x - 2) ** 2
        >>> result = ry.sweep(objective, {"x": ry.uniform(-5, 5)}, mode="min",
        ...                   trials=10, name="quadratic")  # doctest: +SKIP
        >>> result.best.params  # doctest: +SKIP
        {'x': 2.03}
    """
    if mode not in ("max", "min"):
        raise InvalidArgument(f"mode must be 'max' or 'min', got {mode!r}")
    for label, count in (("trials", trials), ("concurrency", concurrency)):
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidArgument(f"{label} must be a positive integer, got {count!r}")
    if max_consecutive_failures < 1:
        raise InvalidArgument("max_consecutive_failures must be at least 1")
    if not callable(objective):
        raise InvalidArgument(f"objective must be callable, got {objective!r}")
    dists = to_optuna(space)
    optuna_sampler = make_sampler(sampler, seed, space)
    if sampler == "grid" and space:
        trials = min(trials, grid_size(space))
    pruner = make_pruner(scheduler)
    check_prune_on(prune_on)

    from runyard.config import resolve_tracking_uri
    from runyard.tracking.client import Client

    uri = resolve_tracking_uri(tracking_uri)
    client = Client(uri, artifact_uri)
    exp = client.get_or_create_experiment(experiment or "Default")
    direction = "maximize" if mode == "max" else "minimize"
    handle, _ = open_sweep(
        client.store, exp.experiment_id, name or f"sweep-{uuid.uuid4().hex[:8]}", metric, direction
    )
    state = SweepState(client.store, handle)
    state.set_tags(
        {
            Tags.SWEEP_TRIALS: str(trials),
            Tags.SWEEP_SAMPLER: _describe(sampler),
            Tags.SWEEP_SCHEDULER: _describe(scheduler),
            Tags.SWEEP_STATE: "RUNNING",
        }
    )
    spec_executor = (
        executor if executor is not None else "inline" if concurrency == 1 else "process"
    )
    if spec_executor == "process":
        spec_executor = f"process:{concurrency}"
    owns_executor = not isinstance(spec_executor, Executor)
    runner = get_executor(spec_executor)
    level = quiet_optuna()
    driver = _Driver(
        state=state,
        objective=objective,
        dists=dists,
        sampler=optuna_sampler,
        pruner=pruner,
        prune_on=prune_on,
        trials=trials,
        concurrency=concurrency,
        executor=runner,
        resources=resources,
        trial_timeout=trial_timeout,
        max_failures=max_consecutive_failures,
        tracking_uri=uri,
        artifact_uri=client.artifact_uri,  # the Client knows the server-proxy default
        on_progress=on_progress,
    )
    try:
        driver.run()
    finally:
        import optuna

        optuna.logging.set_verbosity(level)
        if owns_executor:
            runner.shutdown(wait=False)
    return Sweep(state)


def _describe(spec: object) -> str:
    if spec is None:
        return "none"
    return spec if isinstance(spec, str) else type(spec).__name__


class _Driver:
    """The loop of one driver process over one sweep."""

    def __init__(
        self,
        *,
        state: SweepState,
        objective: Callable[[Trial], float],
        dists: Mapping[str, Any],
        sampler: BaseSampler,
        pruner: BasePruner | None,
        prune_on: str,
        trials: int,
        concurrency: int,
        executor: Executor,
        resources: Resources | None,
        trial_timeout: float | None,
        max_failures: int,
        tracking_uri: str,
        artifact_uri: str,
        on_progress: Callable[[SweepProgress], None] | None,
    ) -> None:
        from optuna.distributions import distribution_to_json

        self.state = state
        self.objective = objective
        self.dists = dict(dists)
        self.dist_json = {k: distribution_to_json(d) for k, d in self.dists.items()}
        self.sampler = sampler
        self.pruner = pruner
        self.prune_on = prune_on
        self.trials = trials
        self.concurrency = concurrency
        self.executor = executor
        self.resources = resources
        self.trial_timeout = trial_timeout
        self.max_failures = max_failures
        self.tracking_uri = tracking_uri
        self.artifact_uri = artifact_uri
        self.on_progress = on_progress
        self.driver_id = new_driver_id()
        self.study, self.storage = new_study(state.handle.run_id, state.handle.direction, sampler)
        self.inflight: dict[Future[TrialOutcome], _Job] = {}
        self.known: set[str] = set()
        self.retries: list[TrialRecord] = []
        self.claimed: set[int] = set()
        self.next_number = 0
        self.failures_in_row = 0
        self.last_failure: TrialOutcome | None = None
        self.last_sync = 0.0
        self.progress = ProgressTracker(state.handle.name, trials)

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        heartbeat = Heartbeat(self.state, self.driver_id)
        heartbeat.start()
        try:
            self._sync(force=True)
            while True:
                self._launch()
                if not self.inflight:
                    if self._all_done():
                        break
                    time.sleep(_POLL_S)
                    self._sync(force=True)
                    continue
                done, _ = wait(list(self.inflight), timeout=_POLL_S, return_when=FIRST_COMPLETED)
                for future in done:
                    self._settle(future, self.inflight.pop(future))
                self._sync()
        except BaseException as e:
            self._abandon(e)
            raise
        finally:
            heartbeat.stop()
        self.state.set_tags({Tags.SWEEP_STATE: "FINISHED"})
        from runyard.entities import RunStatus

        self.state.store.update_run(
            self.state.handle.run_id, status=RunStatus.FINISHED, end_time=now_ms()
        )

    def _all_done(self) -> bool:
        current = {r.number: r for r in self.state.trials()}
        return (
            all(
                n in current and current[n].state is not TrialState.RUNNING
                for n in range(self.trials)
            )
            and not self.retries
        )

    # -- reading what the store holds -----------------------------------------------------

    def _sync(self, force: bool = False) -> None:
        """Learn about trials other drivers finished, and re-run trials whose driver is gone."""
        if not force and time.monotonic() - self.last_sync < 2.0:
            return
        self.last_sync = time.monotonic()
        records = self.state.trials()
        self.claimed = {r.number for r in records}
        fresh = [
            r for r in records if r.run_id not in self.known and r.state is not TrialState.RUNNING
        ]
        if fresh:
            add_records(self.study, fresh, self.state.histories([r.run_id for r in fresh]))
            self.known.update(r.run_id for r in fresh)
        self.progress.count(records, self.state.handle.direction)
        mine = {job.run_id for job in self.inflight.values()}
        queued = {r.run_id for r in self.retries}
        beats: dict[str, int] | None = None
        for r in records:
            if r.run_id in mine or r.run_id in queued:
                continue
            if r.state is TrialState.RUNNING:
                if beats is None:
                    beats = self.state.heartbeats()
                if driver_alive(r.driver, beats.get(r.driver)):
                    continue
                self.retries.append(r)
            elif r.lost and r.superseded_by is None:
                self.retries.append(r)

    # -- launching ------------------------------------------------------------------------

    def _launch(self) -> None:
        while len(self.inflight) < self.concurrency:
            job = self._next_job()
            if job is None:
                return
            self._submit(job)

    def _next_job(self) -> _Job | None:
        while self.retries:
            old = self.retries.pop(0)
            self.study.enqueue_trial(dict(old.params), skip_if_exists=False)
            job = self._claim(old.number, old.attempt + 1, self._ask(old), old)
            if job is not None:
                return job
        while self.next_number < self.trials:
            number = self.next_number
            self.next_number += 1
            if number in self.claimed:
                continue
            job = self._claim(number, 0, self._ask(None), None)
            if job is not None:
                return job
        return None

    def _ask(self, old: TrialRecord | None) -> optuna.trial.Trial:
        if old is None:
            return self.study.ask(fixed_distributions=self.dists)
        from optuna.distributions import json_to_distribution

        fixed = {k: json_to_distribution(v) for k, v in old.distributions.items()}
        return self.study.ask(fixed_distributions=fixed)

    def _claim(
        self, number: int, attempt: int, otrial: optuna.trial.Trial, old: TrialRecord | None
    ) -> _Job | None:
        from optuna.distributions import distribution_to_json
        from optuna.trial import TrialState as OptunaState

        dists = otrial.distributions
        internal = {k: dists[k].to_internal_repr(v) for k, v in otrial.params.items()}
        run_id = self.state.create_trial_run(
            number,
            attempt,
            otrial.params,
            internal,
            {k: distribution_to_json(d) for k, d in dists.items()},
            self.driver_id,
        )
        if run_id is None:  # another driver has this number: look again at what is claimed
            self.study.tell(otrial, state=OptunaState.FAIL)
            self.claimed = set(self.state.claims())
            return None
        if old is not None:
            self.state.mark_lost(old, run_id)
        self.claimed.add(number)
        return _Job(number, attempt, run_id, otrial, old)

    def _submit(self, job: _Job) -> None:
        dists = job.otrial.distributions
        from optuna.distributions import distribution_to_json

        spec = TrialSpec(
            tracking_uri=self.tracking_uri,
            artifact_uri=self.artifact_uri,
            sweep=self.state.handle,
            run_id=job.run_id,
            number=job.number,
            attempt=job.attempt,
            params=dict(job.otrial.params),
            internal={k: dists[k].to_internal_repr(v) for k, v in job.otrial.params.items()},
            distributions={k: distribution_to_json(d) for k, d in dists.items()},
            pruner=self.pruner,
            sampler=self.sampler,
            study_name=self.state.handle.run_id,
            prune_on=self.prune_on,
        )
        try:
            future = self.executor.submit(
                run_trial,
                spec,
                self.objective,
                resources=self.resources,
                timeout=self.trial_timeout,
            )
        except RunyardError as e:
            self._record_lost_worker(job, e)
            raise
        self.inflight[future] = job
        self.progress.started(job.number)
        self._notify()

    # -- settling -------------------------------------------------------------------------

    def _settle(self, future: Future[TrialOutcome], job: _Job) -> None:
        try:
            outcome = future.result()
        except Exception as e:  # noqa: BLE001 - a lost worker, a timeout: the trial failed
            outcome = self._record_lost_worker(job, e)
        record_outcome(self.study, self.storage, job.otrial, outcome)
        self.known.add(job.run_id)
        self.progress.finished(job.number, outcome, self.state.handle.direction, job.otrial.params)
        self._notify()
        if outcome.state is TrialState.FAILED:
            self.failures_in_row += 1
            self.last_failure = outcome
            if self.failures_in_row >= self.max_failures:
                self._give_up(outcome)
        else:
            self.failures_in_row = 0

    def _record_lost_worker(self, job: _Job, error: BaseException) -> TrialOutcome:
        from runyard.entities import RunStatus

        tb_text = "".join(traceback.format_exception(error))
        reason = f"{type(error).__name__}: {error}"
        self.state.store.log_batch(
            job.run_id,
            tags={
                Tags.STATE: TrialState.FAILED.value,
                Tags.REASON: clip(reason),
                Tags.TRACEBACK: clip(tb_text),
            },
        )
        self.state.store.update_run(job.run_id, status=RunStatus.FAILED, end_time=now_ms())
        return TrialOutcome(job.number, TrialState.FAILED, None, (), {}, {}, reason, tb_text, error)

    def _give_up(self, outcome: TrialOutcome) -> None:
        from runyard.entities import RunStatus

        for future in self.inflight:
            future.cancel()
        message = (
            f"{self.failures_in_row} trials failed in a row (max_consecutive_failures="
            f"{self.max_failures}); the last, trial {outcome.number}: {outcome.reason}"
        )
        self.state.set_tags({Tags.SWEEP_STATE: "FAILED", Tags.REASON: clip(message)})
        self.state.store.update_run(
            self.state.handle.run_id, status=RunStatus.FAILED, end_time=now_ms()
        )
        cause = outcome.error or RuntimeError(outcome.traceback or outcome.reason)
        raise UserCodeError(f"sweep {self.state.handle.name!r}: {message}", cause) from cause

    def _abandon(self, error: BaseException) -> None:
        """On the way out after an error or Ctrl-C: in-flight trials will run again."""
        why = f"its driver stopped ({type(error).__name__}) while it ran; it runs again on resume"
        for future, job in list(self.inflight.items()):
            if future.done() and not future.cancelled():
                try:
                    self._settle(future, job)
                    continue
                except BaseException:  # noqa: BLE001,S112 - already on the way out
                    pass
            record = next((r for r in self.state.trials() if r.run_id == job.run_id), None)
            if record is not None and record.state is TrialState.RUNNING:
                try:
                    self.state.mark_lost(record, None, why)
                except RunyardError:
                    continue
        self.inflight.clear()

    def _notify(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress.snapshot())
