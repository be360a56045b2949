"""The driver's side of a training run: attempts, restarts, and what the run records.

The :class:`Supervisor` owns the tracked run and the rendezvous. It launches attempt after
attempt through a launcher until one finishes, a user error ends the run, or the restarts
run out, and records on the run:

* tags ``runyard.train.restarts`` (the count) and ``runyard.train.restart.<n>`` (JSON: time,
  cause, epoch resumed from, the new world size) for each restart, as it happens;
* tags ``runyard.train.world_size`` (the running attempt's) and ``runyard.train.workers``
  (JSON: host and pid of each rank) for each attempt;
* on failure, ``runyard.error`` and the failing rank's traceback as ``training/error.txt``;
* at the end, ``training/summary.json`` (attempts, restarts, checkpoints) and the status.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from runyard.entities import RunStatus
from runyard.errors import UserCodeError
from runyard.executors import WorkerLost
from runyard.training._attempt import AttemptOutcome
from runyard.training._rendezvous import RendezvousHost
from runyard.training._spec import RemoteTraceback, WorkerOutcome, WorkerSpec
from runyard.training.checkpoint import CheckpointPolicy, read_index
from runyard.training.errors import NotEnoughWorkers
from runyard.training.result import RestartRecord, TrainProgress, TrainResult

if TYPE_CHECKING:
    from runyard.artifacts.cas import ContentAddressedStore
    from runyard.tracking.client import Run

__all__ = ["Launcher", "Supervisor"]


class Launcher(Protocol):
    """What the supervisor needs from a launcher (local processes, Ray)."""

    host: str

    def describe(self, workers: int) -> str:
        """Where the workers run."""

    def prepare(self, workers: int, modules: Sequence[str] = ()) -> None:
        """Start what the first attempt needs early (may do nothing)."""

    def close(self) -> None:
        """Release what the launcher holds between attempts."""

    def check(self, workers: int, min_workers: int) -> None:
        """Refuse a group the launcher can never host."""

    def size(
        self, workers: int, min_workers: int, cpus: float, gpus: float, timeout_s: float
    ) -> int:
        """How many workers the next attempt gets (reserving room for them where needed).

        Raises:
            NotEnoughWorkers: no room for ``min_workers`` within ``timeout_s``.
        """

    def run_attempt(
        self,
        specs: Sequence[WorkerSpec],
        rendezvous: RendezvousHost,
        on_poll: Callable[[], None] | None = None,
    ) -> AttemptOutcome:
        """Run one attempt of the whole group."""


class Supervisor:
    """Runs attempts until the training function finishes on every rank.

    Args:
        fn: the training function.
        config: its config.
        run: the tracked run (the supervisor ends it).
        cas: the artifact store the checkpoints go to.
        launcher: where the workers run.
        workers: the world size asked for.
        min_workers: the smallest world size an attempt may run with.
        placement_timeout_s: how long a (re)start waits for room for ``min_workers``.
        max_restarts: restarts allowed after lost workers.
        retry_user_errors: restart after user errors too (they count against max_restarts).
        policy: checkpoint retention.
        seed: the run's seed.
        cpus: CPU threads per worker.
        gpus: GPUs per worker.
        collective_timeout_s: collective and rendezvous timeout.
        on_progress: called with a :class:`TrainProgress` whenever it changes.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        config: dict[str, Any],
        run: Run,
        cas: ContentAddressedStore,
        launcher: Launcher,
        *,
        workers: int,
        min_workers: int,
        placement_timeout_s: float,
        max_restarts: int,
        retry_user_errors: bool,
        policy: CheckpointPolicy,
        seed: int,
        cpus: float,
        gpus: float,
        collective_timeout_s: float,
        on_progress: Callable[[TrainProgress], None] | None,
        tracking_uri: str,
        artifact_uri: str,
    ) -> None:
        self._fn = fn
        self._config = config
        self._run = run
        self._cas = cas
        self._launcher = launcher
        self._workers = workers
        self._min_workers = min_workers
        self._placement_timeout = placement_timeout_s
        self._world = workers
        self._max_restarts = max_restarts
        self._retry_user_errors = retry_user_errors
        self._policy = policy
        self._seed = seed
        self._cpus = cpus
        self._gpus = gpus
        self._timeout = collective_timeout_s
        self._on_progress = on_progress
        self._tracking_uri = tracking_uri
        self._artifact_uri = artifact_uri
        self._restarts: list[RestartRecord] = []
        self._last_progress: TrainProgress | None = None
        self._workers_tagged = False

    def run(self) -> TrainResult:
        """Train to the end, or raise after ending the run FAILED (KILLED on Ctrl-C).

        Raises:
            UserCodeError: the training function raised (the user's exception and traceback
                are its ``__cause__``).
            WorkerLost: workers kept dying after ``max_restarts`` restarts.
            NotEnoughWorkers: no room for ``min_workers`` workers.
        """
        rendezvous = RendezvousHost(self._launcher.host, timeout_s=self._timeout)
        try:
            attempt = 0
            self._world = self._size(None)
            while True:
                outcome = self._attempt(attempt, rendezvous)
                if outcome.ok:
                    break
                retry = outcome.retryable or self._retry_user_errors
                if not retry or len(self._restarts) >= self._max_restarts:
                    raise self._fail(outcome)
                attempt += 1
                self._world = self._size(outcome)
                self._record_restart(attempt, outcome)
            return self._finish()
        except KeyboardInterrupt:
            self._run.end(RunStatus.KILLED)
            raise
        except Exception:  # a failure of runyard itself: the run must not stay RUNNING
            self._run.end(RunStatus.FAILED)  # a no-op when _fail() ended it already
            raise
        finally:
            self._launcher.close()
            rendezvous.close()

    # -- attempts -------------------------------------------------------------------------

    def _size(self, after: AttemptOutcome | None) -> int:
        """The next attempt's world size; ends the run FAILED when there is no room."""
        try:
            return self._launcher.size(
                self._workers, self._min_workers, self._cpus, self._gpus, self._placement_timeout
            )
        except NotEnoughWorkers as e:
            error = NotEnoughWorkers(f"{after.cause}; then {e}" if after is not None else str(e))
            self._end_failed(error)
            raise error from e

    def _attempt(self, attempt: int, rendezvous: RendezvousHost) -> AttemptOutcome:
        index = tuple(read_index(self._run.store, self._cas, self._run.run_id))
        specs = [
            WorkerSpec(
                fn=self._fn,
                config=self._config,
                rank=rank,
                world_size=self._world,
                local_rank=rank,
                attempt=attempt,
                seed=self._seed,
                rendezvous=rendezvous.info(attempt),
                run_id=self._run.run_id,
                tracking_uri=self._tracking_uri,
                artifact_uri=self._artifact_uri,
                policy=self._policy,
                index=index,
                cpus=self._cpus,
                gpus=self._gpus,
                collective_timeout_s=self._timeout,
            )
            for rank in range(self._world)
        ]
        self._workers_tagged = False
        self._run.set_tags({"runyard.train.world_size": self._world})
        return self._launcher.run_attempt(
            specs, rendezvous, on_poll=lambda: self._poll(attempt, rendezvous)
        )

    def _poll(self, attempt: int, rendezvous: RendezvousHost) -> None:
        if not self._workers_tagged:
            where = [rendezvous.read_json(attempt, f"worker/{r}") for r in range(self._world)]
            if all(w is not None for w in where):
                self._workers_tagged = True
                self._run.set_tags({"runyard.train.workers": json.dumps(where)})
        if self._on_progress is None:
            return
        data = rendezvous.read_json(attempt, "progress")
        epoch = data["epoch"] if data else None
        progress = TrainProgress(
            attempt=attempt,
            epoch=epoch,
            metrics=dict(data["metrics"]) if data else {},
            restarts=len(self._restarts),
            checkpoints=data["checkpoints"] if data else 0,
            world_size=self._world,
        )
        if progress != self._last_progress:
            self._last_progress = progress
            self._on_progress(progress)

    # -- records --------------------------------------------------------------------------

    def _record_restart(self, attempt: int, outcome: AttemptOutcome) -> None:
        index = read_index(self._run.store, self._cas, self._run.run_id)
        resumed = max((c.epoch for c in index), default=None)
        record = RestartRecord(attempt, outcome.failed_at_ms, outcome.cause, resumed, self._world)
        self._restarts.append(record)
        self._run.set_tags(
            {
                "runyard.train.restarts": len(self._restarts),
                f"runyard.train.restart.{attempt}": json.dumps(record.to_json()),
            }
        )

    def _summary(self, status: RunStatus) -> None:
        index = read_index(self._run.store, self._cas, self._run.run_id)
        self._run.log_dict(
            {
                "status": status.value,
                "workers": self._workers,
                "world_size": self._world,
                "attempts": len(self._restarts) + 1,
                "restarts": [r.to_json() for r in self._restarts],
                "checkpoints": [c.to_json() for c in index],
            },
            "training/summary.json",
        )

    def _fail(self, outcome: AttemptOutcome) -> Exception:
        error: Exception
        user = outcome.user_error
        if user is not None:
            error = _user_code_error(user)
            self._run.log_text(user.traceback, "training/error.txt")
        else:
            error = WorkerLost(
                f"training stopped after {len(self._restarts)} restart(s) "
                f"(max_restarts={self._max_restarts}): {outcome.cause}"
            )
        self._end_failed(error)
        return error

    def _end_failed(self, error: Exception) -> None:
        self._run.set_tags({"runyard.error": str(error)[:8000]})
        self._summary(RunStatus.FAILED)
        self._run.end(RunStatus.FAILED)

    def _finish(self) -> TrainResult:
        index = read_index(self._run.store, self._cas, self._run.run_id)
        self._summary(RunStatus.FINISHED)
        self._run.set_tags({"runyard.train.restarts": len(self._restarts)})
        self._run.end(RunStatus.FINISHED)
        info = self._run.store.get_run(self._run.run_id)
        metrics = {k: s.latest for k, s in info.metrics.items()}
        return TrainResult(
            run_id=self._run.run_id,
            status=info.status,
            metrics=metrics,
            checkpoint=max(index, key=lambda c: c.epoch) if index else None,
            best_checkpoint=self._policy.best(index),
            checkpoints=tuple(index),
            restarts=tuple(self._restarts),
        )


def _user_code_error(outcome: WorkerOutcome) -> UserCodeError:
    original = outcome.exception
    if original is None:
        original = RuntimeError(f"{outcome.error_type}: {outcome.message}")
    original.__cause__ = RemoteTraceback(outcome.traceback)
    error = UserCodeError(f"training rank {outcome.rank}", original)
    error.__cause__ = original
    return error
