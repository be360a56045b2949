"""The local launcher: one attempt of N workers as tasks on a runyard executor.

runyard launches the workers itself rather than through torch's elastic agent
(``torchrun``): the driver already has to supervise attempts to record them on the run,
so a second supervisor in between would only add a process and a polling interval. Each
attempt:

1. starts ``run_worker(spec)`` for every rank — by default as a process forked from the
   zygote, else as a task on the executor passed in;
2. waits on the N futures, checking every few milliseconds;
3. at the first failure — a worker lost (its future raises ``WorkerLost``) or a worker
   whose function raised — aborts the attempt: sets the rendezvous ``abort`` key (every
   worker's watchdog ends its process within 0.1 s) and, for forked workers, SIGKILLs
   every worker of the attempt. No survivor is left blocked in a collective, so nothing
   hangs;
4. classifies the attempt: a user error (an exception raised by the user's own code, not a
   communication error caused by a vanished peer) is final unless retries of user errors
   were asked for; a lost worker is retryable.

Owned launches (``executor="process"``) fork every worker from a *zygote* (see
:mod:`runyard.training._zygote`): one process, started before the run is created, that has
imported torch, runyard's worker code and the training function's module. The first
attempt's ranks start as soon as those imports are done, and a restart's ranks start in
milliseconds instead of paying for N interpreters and imports again.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait

from runyard.errors import InvalidArgument
from runyard.executors import Executor, Resources, TaskTimeout, WorkerLost
from runyard.training._attempt import AttemptOutcome, classify
from runyard.training._rendezvous import RendezvousHost
from runyard.training._spec import WorkerOutcome, WorkerSpec
from runyard.training._standby import spare_cpu
from runyard.training._worker import run_worker
from runyard.training._zygote import Zygote

__all__ = ["AttemptOutcome", "LocalLauncher"]

_POLL_S = 0.02
_GRACE_S = 30.0


class LocalLauncher:
    """Runs attempts on local worker processes (or on any executor passed in).

    Args:
        executor: None or ``"process"`` for workers forked from the launcher's zygote
            (killed on failure), or an :class:`Executor` the caller owns (it must run N
            tasks at once and isolate them; on failure its tasks end through the
            rendezvous abort).

    Raises:
        InvalidArgument: an executor that cannot run the workers side by side.
    """

    host = "127.0.0.1"

    def __init__(self, executor: str | Executor | None = None) -> None:
        if isinstance(executor, str) and executor.partition(":")[0] != "process":
            raise InvalidArgument(
                f"the local launcher runs on 'process' or an Executor, not {executor!r}"
            )
        self._given = executor if isinstance(executor, Executor) else None
        self._zygote: Zygote | None = None
        self._topped_up = False

    def prepare(self, workers: int, modules: Sequence[str] = ()) -> None:
        """Start the zygote now (owned launches only), importing ``modules`` in it."""
        if self._given is None and self._zygote is None:
            self._zygote = Zygote(modules)

    def close(self) -> None:
        """Stop the zygote and any worker left."""
        zygote, self._zygote = self._zygote, None
        if zygote is not None:
            zygote.close()

    def describe(self, workers: int) -> str:
        """Where the workers run, for displays and tags."""
        if self._given is not None:
            return self._given.describe_worker()
        return f"{workers} local processes"

    def check(self, workers: int, min_workers: int) -> None:
        """Refuse an executor that cannot host ``workers`` ranks side by side."""
        if self._given is not None and self._given.parallelism < workers:
            raise InvalidArgument(
                f"{self._given.describe_worker()} runs {self._given.parallelism} task(s) at "
                f"once; training needs all {workers} workers at once"
            )

    def size(
        self, workers: int, min_workers: int, cpus: float, gpus: float, timeout_s: float
    ) -> int:
        """Local processes always fit: every attempt gets all ``workers``."""
        return workers

    def run_attempt(
        self,
        specs: Sequence[WorkerSpec],
        rendezvous: RendezvousHost,
        on_poll: Callable[[], None] | None = None,
    ) -> AttemptOutcome:
        """Run every rank of one attempt and wait until the group finished or was stopped."""
        zygote = None
        if self._given is None:
            zygote = self._zygote or Zygote()
            self._zygote = zygote
            zygote.wake()  # a top-up under SCHED_IDLE must not delay a restart
        attempt = specs[0].attempt
        # warm the zygote in the background only with a CPU to spare: on CPUs the workers
        # fill, the import runs while a worker waits for its peer and slows every step
        workers_cpus = sum(spec.cpus for spec in specs)
        top_up = zygote is not None and not self._topped_up and spare_cpu(workers_cpus)
        futures: dict[Future[WorkerOutcome], int] = {}
        outcomes: list[WorkerOutcome] = []
        lost: list[tuple[int, BaseException]] = []
        failed_at = 0.0
        first: int | None = None
        settled = False
        try:
            for spec in specs:
                futures[self._start(zygote, spec)] = spec.rank
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=_POLL_S, return_when=FIRST_COMPLETED)
                for future in done:
                    failed = self._collect(future, futures[future], outcomes, lost)
                    if failed and not failed_at:
                        failed_at = self._stop(attempt, rendezvous, zygote)
                if zygote is not None and not failed_at and (dead := zygote.lost()):
                    first = futures[dead[0]]  # blamed, not the workers stopped because of it
                    failed_at = self._stop(attempt, rendezvous, zygote)  # its outcome follows
                if on_poll is not None:
                    on_poll()
                if zygote is not None and top_up and not failed_at:
                    modules = rendezvous.read_json(attempt, "modules")
                    if modules is not None:  # rank 0 has reported: warm what the workers use
                        self._topped_up, top_up = True, False
                        zygote.top_up(modules)
                if failed_at and time.time() - failed_at > _GRACE_S:
                    break
            settled = True
        finally:
            if not settled:  # the driver itself was interrupted: stop the group, now
                rendezvous.abort(attempt)
            if zygote is not None:
                zygote.kill_workers()
        lost.sort(key=lambda item: item[0] != first)  # the worker seen dead first, first
        return classify(outcomes, lost, int(failed_at * 1000))

    @staticmethod
    def _stop(attempt: int, rendezvous: RendezvousHost, zygote: Zygote | None) -> float:
        """Stop the whole group at the first failure; returns when."""
        failed_at = time.time()
        rendezvous.abort(attempt)
        if zygote is not None:
            zygote.kill_workers()
            zygote.wake()  # it reports the exits; a SCHED_IDLE import must not delay it
        return failed_at

    def _start(self, zygote: Zygote | None, spec: WorkerSpec) -> Future[WorkerOutcome]:
        if zygote is not None:
            return zygote.spawn(spec)
        if self._given is None:
            raise InvalidArgument("the local launcher has neither a zygote nor an executor")
        resources = Resources(cpus=spec.cpus, gpus=spec.gpus)
        return self._given.submit(run_worker, spec, resources=resources)

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
