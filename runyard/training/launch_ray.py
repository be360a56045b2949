"""The Ray launcher: one attempt of N workers as Ray tasks, CPUs and GPUs as Ray resources.

The same :func:`~runyard.training._worker.run_worker` runs in each Ray task; the rendezvous
store stays on the driver (workers reach it at the driver's node address), so the process
group forms exactly as it does locally. Each rank is a task with ``num_cpus=cpus_per_worker``
and ``num_gpus=gpus_per_worker`` (Ray sets ``CUDA_VISIBLE_DEVICES``), ``max_retries=0``: the
supervisor, not Ray, decides about restarts. At the first failure the attempt is aborted
through the store and the other tasks are cancelled with ``force=True``.

Connects to the Ray already initialised in this process, else ``ray.init(address)`` (a
cluster address, or a new local Ray without one).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from runyard.errors import InvalidArgument
from runyard.training._attempt import AttemptOutcome, classify
from runyard.training._rendezvous import RendezvousHost
from runyard.training._spec import WorkerOutcome, WorkerSpec
from runyard.training._worker import run_worker

__all__ = ["RayLauncher"]

_POLL_S = 0.02
_GRACE_S = 30.0


class RayLauncher:
    """Runs attempts as Ray tasks.

    Args:
        address: a Ray cluster address; None uses the Ray of this process (or starts one).
    """

    def __init__(self, address: str | None = None) -> None:
        import ray

        if not ray.is_initialized():
            ray.init(address=address)
        self.host: str = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]

    def describe(self, workers: int) -> str:
        """Where the workers run."""
        return f"{workers} Ray tasks"

    def check(self, workers: int) -> None:
        """Refuse a group larger than the cluster's CPUs could ever host."""
        import ray

        cpus = ray.cluster_resources().get("CPU", 0)  # type: ignore[no-untyped-call]
        if cpus < workers:
            raise InvalidArgument(f"the Ray cluster has {cpus:g} CPUs; {workers} workers need more")

    def prepare(self, workers: int, modules: Sequence[str] = ()) -> None:
        """Nothing to start early: Ray keeps its own worker processes warm."""

    def close(self) -> None:
        """Nothing held between attempts."""

    def run_attempt(
        self,
        specs: Sequence[WorkerSpec],
        rendezvous: RendezvousHost,
        on_poll: Callable[[], None] | None = None,
    ) -> AttemptOutcome:
        """Run every rank of one attempt as a Ray task and wait for the group."""
        import ray

        attempt = specs[0].attempt
        refs: dict[Any, int] = {}
        for spec in specs:
            task = ray.remote(num_cpus=spec.cpus, num_gpus=spec.gpus, max_retries=0)(run_worker)
            refs[task.remote(spec)] = spec.rank
        outcomes: list[WorkerOutcome] = []
        lost: list[tuple[int, BaseException]] = []
        pending = list(refs)
        failed_at = 0.0
        settled = False
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1, timeout=_POLL_S)
                for ref in done:
                    try:
                        outcome: WorkerOutcome = ray.get(ref)
                    except ray.exceptions.RayError as e:  # worker crashed, node lost, cancelled
                        lost.append((refs[ref], e))
                        failed = True
                    else:
                        outcomes.append(outcome)
                        failed = not outcome.ok
                    if failed and not failed_at:
                        failed_at = time.time()
                        rendezvous.abort(attempt)
                        for other in pending:
                            ray.cancel(other, force=True)
                if on_poll is not None:
                    on_poll()
                if failed_at and time.time() - failed_at > _GRACE_S:
                    break
            settled = True
        finally:
            if not settled:
                rendezvous.abort(attempt)
                for other in pending:
                    ray.cancel(other, force=True)
        return classify(outcomes, lost, int(failed_at * 1000))
