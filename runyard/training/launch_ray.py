"""The Ray launcher: one attempt of N workers as Ray tasks, CPUs and GPUs as Ray resources.

The same :func:`~runyard.training._worker.run_worker` runs in each Ray task; the rendezvous
store stays on the driver (workers reach it at the driver's node address), so the process
group forms exactly as it does locally. Each rank is a task with ``num_cpus=cpus_per_worker``
and ``num_gpus=gpus_per_worker`` (Ray sets ``CUDA_VISIBLE_DEVICES``), ``max_retries=0``: the
supervisor, not Ray, decides about restarts. At the first failure the attempt is aborted
through the store and the other tasks are cancelled with ``force=True``.

Before each attempt the launcher sizes the group (:meth:`RayLauncher.size`): it counts how
many workers the *alive* nodes can host, takes ``min(workers, that)`` and reserves them with
a placement group (one bundle per rank, packed). When that is fewer than ``min_workers`` —
or the reservation does not come through, as while Ray has not yet declared a stopped node
dead — it looks again every half second, up to ``placement_timeout``, then gives up with
:class:`~runyard.training.errors.NotEnoughWorkers`. The placement group is removed when the
attempt ends, which also ends any of its tasks still running.

Connects to the Ray already initialised in this process, else ``ray.init(address)`` (a
cluster address, or a new local Ray without one).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from runyard.errors import InvalidArgument
from runyard.training._attempt import AttemptOutcome, classify
from runyard.training._rendezvous import RendezvousHost
from runyard.training._spec import WorkerOutcome, WorkerSpec
from runyard.training._worker import run_worker
from runyard.training.errors import NotEnoughWorkers

__all__ = ["RayLauncher", "workers_that_fit"]

_POLL_S = 0.02
_GRACE_S = 30.0
_PLACE_TRY_S = 5.0
_RECHECK_S = 0.5


def workers_that_fit(nodes: Sequence[Mapping[str, Any]], cpus: float, gpus: float) -> int:
    """How many workers of ``cpus`` CPUs and ``gpus`` GPUs the alive ``nodes`` can host.

    Args:
        nodes: ``ray.nodes()``: dicts with ``Alive`` and ``Resources`` (the node's totals).
        cpus: CPUs per worker (> 0).
        gpus: GPUs per worker (0 for CPU training).

    Example:
        >>> nodes = [{"Alive": True, "Resources": {"CPU": 3.0}}, {"Alive": False}]
        >>> workers_that_fit(nodes, cpus=1, gpus=0)
        3
    """
    total = 0
    for node in nodes:
        if not node.get("Alive"):
            continue
        resources = node.get("Resources") or {}
        fit = int(resources.get("CPU", 0) / cpus + 1e-9)
        if gpus > 0:
            fit = min(fit, int(resources.get("GPU", 0) / gpus + 1e-9))
        total += fit
    return total


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
        self._group: Any = None

    def describe(self, workers: int) -> str:
        """Where the workers run."""
        return f"{workers} Ray tasks"

    def check(self, workers: int, min_workers: int) -> None:
        """Refuse a group larger than the cluster's CPUs could ever host."""
        import ray

        cpus = ray.cluster_resources().get("CPU", 0)  # type: ignore[no-untyped-call]
        if cpus < min_workers:
            raise InvalidArgument(
                f"the Ray cluster has {cpus:g} CPUs; {min_workers} workers need more"
            )

    def prepare(self, workers: int, modules: Sequence[str] = ()) -> None:
        """Nothing to start early: Ray keeps its own worker processes warm."""

    def close(self) -> None:
        """Release the placement group, if any."""
        self._release()

    def size(
        self, workers: int, min_workers: int, cpus: float, gpus: float, timeout_s: float
    ) -> int:
        """Reserve as many workers as fit, from ``min_workers`` to ``workers``; return how many.

        Raises:
            NotEnoughWorkers: fewer than ``min_workers`` fit within ``timeout_s``.
        """
        import ray
        from ray.util import placement_group, remove_placement_group

        self._release()
        bundle = {"CPU": float(cpus), **({"GPU": float(gpus)} if gpus > 0 else {})}
        deadline = time.monotonic() + timeout_s
        while True:
            nodes = ray.nodes()  # type: ignore[no-untyped-call]
            count = min(workers, workers_that_fit(nodes, cpus, gpus))
            if count >= min_workers:
                group = placement_group([bundle] * count, strategy="PACK")
                left = max(0.1, min(_PLACE_TRY_S, deadline - time.monotonic()))
                if group.wait(timeout_seconds=left):
                    self._group = group
                    return count
                remove_placement_group(group)  # a stale view of the cluster: look again
            if time.monotonic() >= deadline:
                raise NotEnoughWorkers(
                    _no_room(nodes, count, workers, min_workers, bundle, timeout_s)
                )
            time.sleep(_RECHECK_S)

    def _release(self) -> None:
        group, self._group = self._group, None
        if group is not None:
            from ray.util import remove_placement_group

            try:
                remove_placement_group(group)
            except Exception:  # noqa: BLE001, S110 - the cluster may be gone; nothing to free
                pass

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
            options: dict[str, Any] = {}
            if self._group is not None:
                from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

                options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
                    self._group, placement_group_bundle_index=spec.rank
                )
            task = ray.remote(num_cpus=spec.cpus, num_gpus=spec.gpus, max_retries=0)(run_worker)
            refs[task.options(**options).remote(spec)] = spec.rank
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
                        _cancel(pending)
                if on_poll is not None:
                    on_poll()
                if failed_at and time.time() - failed_at > _GRACE_S:
                    break
            settled = True
        finally:
            if not settled:
                rendezvous.abort(attempt)
                _cancel(pending)
            self._release()  # also ends any task of the attempt still running
        return classify(outcomes, lost, int(failed_at * 1000))


def _cancel(refs: Sequence[Any]) -> None:
    import ray

    for ref in refs:
        try:
            ray.cancel(ref, force=True)
        except Exception:  # noqa: BLE001, S110 - already gone (its node may be dead)
            pass


def _no_room(
    nodes: Sequence[Mapping[str, Any]],
    count: int,
    workers: int,
    min_workers: int,
    bundle: Mapping[str, float],
    timeout_s: float,
) -> str:
    alive = sum(1 for n in nodes if n.get("Alive"))
    each = ", ".join(f"{v:g} {k}" for k, v in bundle.items())
    hint = (
        f"allow fewer workers with min_workers=N (N < {workers}), or add nodes"
        if min_workers == workers
        else "add nodes, or lower min_workers"
    )
    return (
        f"the Ray cluster ({alive} alive node(s)) has room for {count} worker(s) of {each} "
        f"after waiting {timeout_s:g} s, and training needs at least min_workers="
        f"{min_workers} (of workers={workers}); {hint}"
    )
