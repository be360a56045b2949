"""The local launcher: one attempt of N workers as tasks on a runyard executor.

runyard launches the workers itself rather than through torch's elastic agent
(``torchrun``): the driver already has to supervise attempts to record them on the run,
so a second supervisor in between would only add a process and a polling interval. Each
attempt:

1. submits ``run_worker(spec)`` for every rank to the executor — by default a fresh
   :class:`~runyard.executors.ProcessExecutor` of exactly N processes, one per rank;
2. waits on the N futures, checking every few milliseconds;
3. at the first failure — a worker lost (its future raises ``WorkerLost``) or a worker
   whose function raised — aborts the attempt: sets the rendezvous ``abort`` key (every
   worker's watchdog ends its process within 0.1 s) and, when the launcher owns the
   executor, shuts it down without waiting (killing every worker process). No survivor is
   left blocked in a collective, so nothing hangs;
4. classifies the attempt: a user error (an exception raised by the user's own code, not a
   communication error caused by a vanished peer) is final unless retries of user errors
   were asked for; a lost worker is retryable.

While an attempt trains, an owned launcher keeps N *warm standby* processes (see
:mod:`runyard.training._standby`): a restart hands the ranks to processes that have already
imported torch and the workers' modules, instead of paying for N interpreters and imports
again. The first attempt's processes are started the same way, before the run is created,
so their startup overlaps the driver's.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait

from runyard.errors import InvalidArgument
from runyard.executors import Executor, Resources, TaskTimeout, WorkerLost, get_executor
from runyard.training._attempt import AttemptOutcome, classify
from runyard.training._rendezvous import RendezvousHost
from runyard.training._spec import WorkerOutcome, WorkerSpec
from runyard.training._worker import run_worker

__all__ = ["AttemptOutcome", "LocalLauncher"]

_POLL_S = 0.02
_GRACE_S = 30.0


class LocalLauncher:
    """Runs attempts on local worker processes (or on any executor passed in).

    Args:
        executor: None or ``"process"`` for a fresh process pool of N workers per attempt
            (owned, and killed on failure), or an :class:`Executor` the caller owns (it must
            run N tasks at once and isolate them; on failure its tasks end through the
            rendezvous abort).

    Raises:
        InvalidArgument: an executor that cannot run the workers side by side.
    """

    host = "127.0.0.1"

    def __init__(self, executor: str | Executor | None = None, standby: bool = True) -> None:
        if isinstance(executor, str) and executor.partition(":")[0] != "process":
            raise InvalidArgument(
                f"the local launcher runs on 'process' or an Executor, not {executor!r}"
            )
        self._given = executor if isinstance(executor, Executor) else None
        self._use_standby = standby and self._given is None
        self._standby: Executor | None = None
        self._standby_topped_up = False
        self._modules: list[str] = []

    def prepare(self, workers: int, modules: Sequence[str] = ()) -> None:
        """Start the first attempt's processes now (owned pools only), importing ``modules``."""
        self._modules = list(modules)
        if self._given is None and self._standby is None:
            self._standby = _warm_pool(workers, modules, low_priority=False)

    def close(self) -> None:
        """Stop the standby processes, if any."""
        standby, self._standby = self._standby, None
        if standby is not None:
            standby.shutdown(wait=False)

    def describe(self, workers: int) -> str:
        """Where the workers run, for displays and tags."""
        if self._given is not None:
            return self._given.describe_worker()
        return f"{workers} local processes"

    def check(self, workers: int) -> None:
        """Refuse an executor that cannot host ``workers`` ranks side by side."""
        if self._given is not None and self._given.parallelism < workers:
            raise InvalidArgument(
                f"{self._given.describe_worker()} runs {self._given.parallelism} task(s) at "
                f"once; training needs all {workers} workers at once"
            )

    def run_attempt(
        self,
        specs: Sequence[WorkerSpec],
        rendezvous: RendezvousHost,
        on_poll: Callable[[], None] | None = None,
    ) -> AttemptOutcome:
        """Run every rank of one attempt and wait until the group finished or was stopped."""
        owned = self._given is None
        executor: Executor | None = self._given
        if owned:
            executor, self._standby = self._standby, None
            if executor is None:
                executor = get_executor(f"process:{len(specs)}")
            else:
                from runyard.training._standby import wake_children

                wake_children()
        if executor is None:  # narrowed for the type checker
            raise InvalidArgument("no executor")
        attempt = specs[0].attempt
        futures: dict[Future[WorkerOutcome], int] = {}
        outcomes: list[WorkerOutcome] = []
        lost: list[tuple[int, BaseException]] = []
        failed_at = 0.0
        settled = False
        try:
            for spec in specs:
                resources = Resources(cpus=spec.cpus, gpus=spec.gpus)
                futures[executor.submit(run_worker, spec, resources=resources)] = spec.rank
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=_POLL_S, return_when=FIRST_COMPLETED)
                for future in done:
                    failed = self._collect(future, futures[future], outcomes, lost)
                    if failed and not failed_at:
                        failed_at = time.time()
                        rendezvous.abort(attempt)
                        if owned:
                            executor.shutdown(wait=False)
                if on_poll is not None:
                    on_poll()
                if self._use_standby and not failed_at:
                    self._keep_standby(len(specs), attempt, rendezvous)
                if failed_at and time.time() - failed_at > _GRACE_S:
                    break
            settled = True
        finally:
            if not settled:  # the driver itself was interrupted: stop the group, now
                rendezvous.abort(attempt)
            if owned:  # every outcome is in: no need to wait for interpreters to tear down
                executor.shutdown(wait=False)
        return classify(outcomes, lost, int(failed_at * 1000))

    def _keep_standby(self, workers: int, attempt: int, rendezvous: RendezvousHost) -> None:
        """Start a low-priority standby; top it up with the workers' modules once known."""
        if self._standby is None:
            self._standby = _warm_pool(workers, self._modules)
            self._standby_topped_up = False
        if not self._standby_topped_up:
            modules = rendezvous.read_json(attempt, "modules")
            if modules is not None:  # rank 0 has reported: import what the workers use
                self._standby_topped_up = True
                for _ in range(workers):
                    self._standby.submit(_warm_up, modules, True)

    @staticmethod
    def _collect(
        future: Future[WorkerOutcome],
        rank: int,
        outcomes: list[WorkerOutcome],
        lost: list[tuple[int, BaseException]],
    ) -> bool:
        try:
            outcome = future.result()
        except (WorkerLost, TaskTimeout) as e:
            lost.append((rank, e))
            return True
        except Exception as e:  # noqa: BLE001 - the worker's launch itself failed: final
            outcome = WorkerOutcome(
                rank,
                ok=False,
                error_type=f"{type(e).__module__}.{type(e).__qualname__}",
                message=str(e),
                traceback="".join(traceback.format_exception(e)),
                exception=e,
            )
        outcomes.append(outcome)
        return not outcome.ok


def _warm_pool(workers: int, modules: Sequence[str], low_priority: bool = True) -> Executor:
    pool = get_executor(f"process:{workers}")
    for _ in range(workers):
        pool.submit(_warm_up, list(modules), low_priority)
    return pool


def _warm_up(modules: list[str], low_priority: bool) -> int:
    from runyard.training._standby import warm_up

    return warm_up(modules, low_priority)
