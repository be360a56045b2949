"""A sweep's state in the tracking store: the sweep run, trial claims, trial runs, heartbeats.

Nothing about a sweep lives only in a driver process. The store holds:

* **the sweep run** (tag ``runyard.sweep.name``), found through a *lock experiment*
  ``runyard.sweep-lock/<experiment id>/<name>`` whose tag names the sweep run. Experiment
  names are unique in every store, so two drivers that start the same new sweep at once
  agree on one sweep run; the lock experiment is soft-deleted at once, so it stays out of
  listings while its name stays taken;
* **claims**: trial number ``N`` belongs to whichever driver first sets the sweep run's
  param ``runyard.trial.N`` (``runyard.trial.N.K`` for the K-th re-run) to its trial run id.
  Params are immutable in every store (a different value raises ``ParamConflict``), which
  makes each claim an atomic compare-and-set;
* **trial runs**: child runs of the sweep run with their params, their reported values as a
  metric series, and tags for state, reason, traceback, value and the pruner's state;
* **heartbeats**: each driver refreshes a tag on the sweep run; a RUNNING trial whose
  driver is gone (dead process on this host, or no heartbeat for the lease) is *lost*.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from runyard.entities import Run, RunStatus
from runyard.errors import AlreadyExists, InvalidArgument, NotFound, ParamConflict
from runyard.sweeps.records import Tags, TrialRecord, TrialState
from runyard.tracking.store.base import MAX_TAG_VALUE_LENGTH, TrackingStore

__all__ = ["SweepHandle", "SweepState", "find_sweep", "now_ms", "open_sweep"]

_LOCK_PREFIX = "runyard.sweep-lock"
_LOCK_TAG = "runyard.sweep.run_id"


def now_ms() -> int:
    """Milliseconds since the epoch."""
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class SweepHandle:
    """What identifies a sweep in the store.

    Attributes:
        run_id: the sweep run.
        experiment_id: its experiment.
        name: the sweep name.
        metric: the optimised metric.
        direction: ``maximize`` or ``minimize``.
    """

    run_id: str
    experiment_id: str
    name: str
    metric: str
    direction: str


def _lock_name(experiment_id: str, name: str, generation: int) -> str:
    base = f"{_LOCK_PREFIX}/{experiment_id}/{name}"
    return base if generation == 1 else f"{base}#{generation}"


def _handle(run: Run, name: str) -> SweepHandle:
    return SweepHandle(
        run.run_id, run.experiment_id, name, run.params.get("metric", ""),
        run.params.get("direction", "maximize"),
    )  # fmt: skip


def find_sweep(store: TrackingStore, experiment_id: str, name: str) -> SweepHandle | None:
    """The live sweep called ``name`` in the experiment, or None."""
    generation = 1
    while True:
        lock = store.get_experiment_by_name(_lock_name(experiment_id, name, generation))
        if lock is None:
            return None
        run = store.get_run(lock.tags[_LOCK_TAG])
        if run.lifecycle_stage.value == "active":
            return _handle(run, name)
        generation += 1


def open_sweep(
    store: TrackingStore, experiment_id: str, name: str, metric: str, direction: str
) -> tuple[SweepHandle, bool]:
    """Find the sweep ``name`` or create it; two drivers doing this at once get the same one.

    Returns:
        The sweep and whether this call created it.

    Raises:
        InvalidArgument: the sweep exists with another metric or direction.
    """
    generation = 1
    while True:
        lock_name = _lock_name(experiment_id, name, generation)
        lock = store.get_experiment_by_name(lock_name)
        if lock is not None:
            run = store.get_run(lock.tags[_LOCK_TAG])
            if run.lifecycle_stage.value != "active":
                generation += 1
                continue
            handle = _handle(run, name)
            if (handle.metric, handle.direction) != (metric, direction):
                raise InvalidArgument(
                    f"sweep {name!r} exists with metric={handle.metric!r} "
                    f"({handle.direction}); it cannot continue with metric={metric!r} "
                    f"({direction}). Use another name."
                )
            return handle, False
        run = store.create_run(experiment_id, name=name, tags={Tags.SWEEP_STATE: "RUNNING"})
        store.log_batch(run.run_id, params={"metric": metric, "direction": direction})
        try:
            lock_id = store.create_experiment(lock_name, tags={_LOCK_TAG: run.run_id})
        except AlreadyExists:
            store.delete_run(run.run_id)  # another driver created the sweep meanwhile
            continue
        store.delete_experiment(lock_id)  # keep the lock out of experiment listings
        store.log_batch(run.run_id, tags={Tags.SWEEP_NAME: name})
        return SweepHandle(run.run_id, experiment_id, name, metric, direction), True


def _claim_key(number: int, attempt: int) -> str:
    return f"{Tags.CLAIM}{number}" if attempt == 0 else f"{Tags.CLAIM}{number}.{attempt}"


def _json(value: str | None, default: Any) -> Any:
    if not value:
        return default
    try:
        return json.loads(value)
    except ValueError:
        return default


def clip(text: str) -> str:
    """Shorten ``text`` to fit a tag value, keeping its end (where tracebacks say most)."""
    if len(text) <= MAX_TAG_VALUE_LENGTH:
        return text
    return "...\n" + text[-(MAX_TAG_VALUE_LENGTH - 4) :]


def decode_trial(run: Run, metric: str) -> TrialRecord | None:
    """The trial a child run of a sweep holds, or None for a run that is not a trial."""
    tags = run.tags
    if Tags.NUMBER not in tags:
        return None
    from optuna.distributions import json_to_distribution

    dists: dict[str, str] = _json(tags.get(Tags.DISTRIBUTIONS), {})
    internal: dict[str, float] = _json(tags.get(Tags.PARAMS), {})
    params: dict[str, Any] = {}
    for key, raw in internal.items():
        if key in dists:
            params[key] = json_to_distribution(dists[key]).to_external_repr(raw)
    summary = run.metrics.get(metric)
    value_text = tags.get(Tags.VALUE)
    value = float(value_text) if value_text else None
    state = TrialState(tags.get(Tags.STATE, TrialState.RUNNING.value))
    if state is TrialState.PRUNED and value is None and summary is not None:
        value = summary.latest
    return TrialRecord(
        number=int(tags[Tags.NUMBER]),
        run_id=run.run_id,
        state=state,
        value=value,
        params=MappingProxyType(params),
        distributions=MappingProxyType(dists),
        last_step=None if summary is None else summary.latest_step,
        last_value=None if summary is None else summary.latest,
        steps=0 if summary is None else summary.count,
        start_time=run.start_time,
        end_time=run.end_time,
        reason=tags.get(Tags.REASON, ""),
        driver=tags.get(Tags.DRIVER, ""),
        attempt=int(tags.get(Tags.ATTEMPT, "0")),
        system_attrs=MappingProxyType(_json(tags.get(Tags.SYSTEM_ATTRS), {})),
        superseded_by=tags.get(Tags.SUPERSEDED),
        lost=tags.get(Tags.LOST) == "true",
    )


class SweepState:
    """Reads and writes one sweep's state in a tracking store.

    Args:
        store: the tracking store.
        handle: the sweep.
    """

    def __init__(self, store: TrackingStore, handle: SweepHandle) -> None:
        self.store = store
        self.handle = handle

    # -- claims ---------------------------------------------------------------------------

    def claims(self) -> dict[int, dict[int, str]]:
        """Trial number → attempt → the run id that claimed it."""
        out: dict[int, dict[int, str]] = {}
        for key, run_id in self.store.get_run(self.handle.run_id).params.items():
            if not key.startswith(Tags.CLAIM):
                continue
            number, _, attempt = key[len(Tags.CLAIM) :].partition(".")
            if number.isdigit() and (not attempt or attempt.isdigit()):
                out.setdefault(int(number), {})[int(attempt or 0)] = run_id
        return out

    def claim(self, number: int, attempt: int, run_id: str) -> bool:
        """Atomically claim attempt ``attempt`` of trial ``number`` for ``run_id``."""
        try:
            self.store.log_batch(self.handle.run_id, params={_claim_key(number, attempt): run_id})
        except ParamConflict:
            return False
        return True

    def create_trial_run(
        self,
        number: int,
        attempt: int,
        params: Mapping[str, Any],
        internal: Mapping[str, float],
        distributions: Mapping[str, str],
        driver: str,
    ) -> str | None:
        """Create trial ``number``'s run and claim it; None when another driver won the claim."""
        run = self.store.create_run(
            self.handle.experiment_id,
            name=f"{self.handle.name}-{number}" + (f".{attempt}" if attempt else ""),
            parent_run_id=self.handle.run_id,
            tags={
                Tags.NUMBER: str(number),
                Tags.ATTEMPT: str(attempt),
                Tags.STATE: TrialState.RUNNING.value,
                Tags.DRIVER: driver,
                Tags.PARAMS: json.dumps(dict(internal)),
                Tags.DISTRIBUTIONS: json.dumps(dict(distributions)),
            },
        )
        if not self.claim(number, attempt, run.run_id):
            self.store.delete_run(run.run_id)
            return None
        if params:
            self.store.log_batch(run.run_id, params={k: str(v) for k, v in params.items()})
        return run.run_id

    # -- trials ---------------------------------------------------------------------------

    def trial_runs(self) -> list[Run]:
        """Every live child run of the sweep, superseded attempts included."""
        out: list[Run] = []
        token: str | None = None
        flt = f"attributes.parent_run_id = '{self.handle.run_id}'"
        while True:
            page = self.store.search_runs(
                [self.handle.experiment_id], flt, max_results=5000, page_token=token
            )
            out.extend(page.items)
            token = page.next_page_token
            if token is None:
                return out

    def trials(self, include_superseded: bool = False) -> list[TrialRecord]:
        """The sweep's claimed trials by number (the current attempt of each, unless asked).

        A run whose claim was lost (or never made: its driver died in between) is left out.
        """
        claims = self.claims()
        records = [
            r
            for r in (decode_trial(run, self.handle.metric) for run in self.trial_runs())
            if r is not None and claims.get(r.number, {}).get(r.attempt) == r.run_id
        ]
        if include_superseded:
            return sorted(records, key=lambda r: (r.number, r.attempt))
        current: dict[int, TrialRecord] = {}
        for r in records:
            if r.superseded_by is None and (
                r.number not in current or r.attempt > current[r.number].attempt
            ):
                current[r.number] = r
        return [current[n] for n in sorted(current)]

    def histories(self, run_ids: list[str]) -> dict[str, dict[int, float]]:
        """Run id → step → reported value (the last point at a step wins)."""
        out: dict[str, dict[int, float]] = {}
        for series in self.store.get_metric_histories(run_ids, self.handle.metric):
            points = out.setdefault(series.run_id, {})
            for step, value in zip(series.steps, series.values, strict=True):
                points[step] = value
        return out

    def mark_lost(self, record: TrialRecord, superseded_by: str | None, why: str = "") -> None:
        """Record that a trial's driver is gone (re-run as ``superseded_by`` when given)."""
        tags = {
            Tags.STATE: TrialState.FAILED.value,
            Tags.REASON: why or f"its driver {record.driver} was lost while it ran",
            Tags.LOST: "true",
        }
        if superseded_by:
            tags[Tags.SUPERSEDED] = superseded_by
        self.store.log_batch(record.run_id, tags=tags)
        try:
            self.store.update_run(record.run_id, status=RunStatus.FAILED, end_time=now_ms())
        except NotFound:
            pass

    # -- the sweep run --------------------------------------------------------------------

    def set_tags(self, tags: Mapping[str, str]) -> None:
        """Set tags on the sweep run."""
        self.store.log_batch(self.handle.run_id, tags=dict(tags))

    def heartbeat(self, driver: str) -> None:
        """Refresh this driver's heartbeat on the sweep run."""
        self.store.log_batch(self.handle.run_id, tags={Tags.HEARTBEAT + driver: str(now_ms())})

    def heartbeats(self) -> dict[str, int]:
        """Driver id → its last heartbeat (ms since the epoch)."""
        tags = self.store.get_run(self.handle.run_id).tags
        return {
            k[len(Tags.HEARTBEAT) :]: int(v)
            for k, v in tags.items()
            if k.startswith(Tags.HEARTBEAT) and v.isdigit()
        }

    def sweep_run(self) -> Run:
        """The sweep run as stored now."""
        return self.store.get_run(self.handle.run_id)


def finite_or_none(value: float | None) -> float | None:
    """``value`` when it is a finite float, else None."""
    return value if value is not None and math.isfinite(value) else None
