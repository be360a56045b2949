"""The Ray executor: tasks on a local Ray or a Ray cluster.

``RayExecutor`` joins the cluster at ``address`` (else ``$RUNYARD_RAY_ADDRESS``, else starts a
local Ray) and runs each task as a Ray task whose options come from the task's
:class:`~runyard.executors.base.Resources`. Ray executes; the durable record (runs, cache,
artifacts) stays in the tracking and artifact stores, which the task itself writes to.

Failures:

* An exception raised by the task is re-raised by ``future.result()`` as the same exception
  (Ray never retries it: ``retry_exceptions=False``); runyard's own retry policy decides.
* A worker process or a node lost mid-task is a system failure: Ray reschedules the task up
  to ``system_retries`` times (on a surviving node), then ``future.result()`` raises
  :class:`~runyard.executors.base.WorkerLost`.
* Resources no node of the cluster has fail in ``submit`` instead of hanging (turn
  ``strict_resources`` off on autoscaling clusters, where nodes appear on demand).
* ``timeout=`` cancels the task (force-kills its worker) and raises ``TaskTimeout``.

``submit_after`` (a chain) passes the Ray references of earlier tasks to the new task, so
Ray starts it as soon as its inputs exist, without a round trip through the driver.

``submit_many`` (a fan-out) packs calls into adaptive chunks, one Ray task per chunk, with
each call's result, error and lost-worker retries kept apart: see
:mod:`runyard.executors._ray_batches`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from runyard.errors import InvalidArgument, MissingDependency
from runyard.executors._chunking import run_chunk
from runyard.executors._ray_batches import RayChunks, RemoteTraceback
from runyard.executors._ray_payload import pack, run_packed, unpack_result
from runyard.executors._ray_watch import RefWatcher
from runyard.executors.base import Executor, Resources, TaskTimeout, WorkerLost

__all__ = ["RAY_ADDRESS_ENV", "RAY_NODE_IP_ENV", "RayExecutor"]

T = TypeVar("T")

RAY_ADDRESS_ENV = "RUNYARD_RAY_ADDRESS"
RAY_NODE_IP_ENV = "RUNYARD_RAY_NODE_IP"
_NODE_TABLE_TTL_S = 2.0
_RAY_TASK_DEFAULTS = {"num_cpus": 1, "num_gpus": 0, "max_retries": 3, "retry_exceptions": False}
"""The options a Ray task has when none are given (Ray's documented defaults)."""


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as e:
        raise MissingDependency("ray", "ray") from e
    return ray


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return fn(*args, **kwargs)


def _call_after(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    packed: tuple[bool, ...],
    *results: Any,
) -> Any:
    # Ray hands over the results of the references given as ``*results``, once they exist.
    values = [unpack_result(r) if p else r for p, r in zip(packed, results, strict=True)]
    return fn(values, *args, **kwargs)


@contextlib.contextmanager
def _unpicklable_as_invalid(fn: Callable[..., Any]) -> Iterator[None]:
    """Ray's ``TypeError`` for a call it cannot serialize, as the executors' own error.

    The process executor says the same (:class:`InvalidArgument`, "cannot be sent to a
    worker"), so a step that closes over a lock or a socket fails the same way everywhere.
    """
    try:
        yield
    except TypeError as e:
        if "serializ" not in str(e):
            raise
        label = getattr(fn, "__qualname__", None) or repr(fn)
        cause = e.__cause__ or e.__context__ or e
        raise InvalidArgument(f"task {label} cannot be sent to a worker: {cause}") from e


class RayExecutor(Executor):
    """Run tasks as Ray tasks.

    Args:
        address: ``host:port`` of a running cluster's GCS, ``"auto"``, or None for
            ``$RUNYARD_RAY_ADDRESS`` and then a fresh local Ray.
        system_retries: how many times Ray reschedules a task whose worker or node died.
        strict_resources: refuse, in ``submit``, resources that no node has.
        init_options: extra keyword arguments for ``ray.init`` (``num_cpus`` for a local Ray,
            ``runtime_env``, ...). ``$RUNYARD_RAY_NODE_IP`` sets ``_node_ip_address``.

    Example:
        >>> from runyard.executors.ray import RayExecutor
        >>> with RayExecutor(init_options={"num_cpus": 2}) as ex:  # doctest: +SKIP
        ...     ex.submit(sum, [1, 2, 3]).result()
        6
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        system_retries: int = 3,
        strict_resources: bool = True,
        init_options: Mapping[str, Any] | None = None,
    ) -> None:
        ray = _import_ray()
        self._ray = ray
        self._system_retries = system_retries
        self._strict = strict_resources
        self._address = address or os.environ.get(RAY_ADDRESS_ENV) or None
        self._owns_ray = False
        if not ray.is_initialized():
            options: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": True,
                "configure_logging": False,
            }
            node_ip = os.environ.get(RAY_NODE_IP_ENV)
            if node_ip:
                options["_node_ip_address"] = node_ip
            options.update(init_options or {})
            ray.init(address=self._address, **options)
            self._owns_ray = True
        self._remotes = {
            "call": ray.remote(_call),
            "after": ray.remote(_call_after),
            "packed": ray.remote(run_packed),
        }
        self._tasks: dict[tuple[Any, ...], Any] = {}
        # The Ray reference behind each future of submit(), for submit_after to pass on, and
        # whether its task returns a packed result (see _ray_payload).
        self._refs: weakref.WeakKeyDictionary[Future[Any], tuple[Any, bool]] = (
            weakref.WeakKeyDictionary()
        )
        self._watcher = RefWatcher(ray)
        self._chunks = RayChunks(
            ray, ray.remote(run_chunk), system_retries, lambda e: self._translate(e, False, None)
        )
        self._lock = threading.Lock()
        self._closed = False
        self._nodes: list[dict[str, float]] | None = None
        self._nodes_read = 0.0
        self._fits: dict[tuple[Any, ...], float] = {}  # shape -> node table it was found on

    # -- capabilities ---------------------------------------------------------------------

    @property
    def parallelism(self) -> int:
        """The cluster's total CPUs."""
        return max(1, int(self._ray.cluster_resources().get("CPU", 1)))

    @property
    def batches_tasks(self) -> bool:
        """``submit_many`` runs calls in adaptive chunks, several to a Ray task."""
        return True

    @property
    def supports_timeouts(self) -> bool:
        """Ray can force-cancel a running task."""
        return True

    @property
    def chains_tasks(self) -> bool:
        """``submit_after`` passes Ray references: Ray starts the task when its inputs exist."""
        return True

    @property
    def isolates_tasks(self) -> bool:
        """Tasks run in Ray worker processes."""
        return True

    def describe_worker(self) -> str:
        """``ray@<gcs address>`` with the number of live nodes."""
        nodes = [n for n in self._ray.nodes() if n.get("Alive")]
        gcs = self._ray.get_runtime_context().gcs_address
        return f"ray@{gcs} ({len(nodes)} node{'s' if len(nodes) != 1 else ''})"

    # -- work -----------------------------------------------------------------------------

    def submit(
        self,
        fn: Callable[..., T],
        /,
        *args: Any,
        resources: Resources | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` as a Ray task with ``resources``."""
        if self._closed:
            raise InvalidArgument("this RayExecutor has been shut down")
        payload = pack(fn, args, kwargs)
        if payload is not None:  # one bytes argument: far cheaper for Ray (see _ray_payload)
            ref = self._task(resources, "packed").remote(payload)
            return self._watch(ref, timeout, packed=True)
        with _unpicklable_as_invalid(fn):
            ref = self._task(resources).remote(fn, args, kwargs)
        return self._watch(ref, timeout)

    def submit_after(
        self,
        fn: Callable[..., T],
        after: Sequence[Future[Any]],
        /,
        *args: Any,
        resources: Resources | None = None,
        **kwargs: Any,
    ) -> Future[T]:
        """Run ``fn([results of after], *args, **kwargs)`` as a Ray task that waits for them.

        The task is submitted now with the Ray references of ``after`` as its arguments:
        Ray starts it once they exist, on any node, with no round trip through this
        process. A failed future of ``after`` fails this one with the same error.
        """
        if self._closed:
            raise InvalidArgument("this RayExecutor has been shut down")
        known = [self._refs.get(f) for f in after]
        upstream = [k for k in known if k is not None]
        if len(upstream) < len(known):
            raise InvalidArgument(
                "submit_after takes futures this RayExecutor returned from submit or submit_after"
            )
        refs = [ref for ref, _ in upstream]
        packed = tuple(p for _, p in upstream)
        payload = pack(fn, args, kwargs, packed)
        if payload is not None:  # the flags travel inside it: one argument less for Ray
            ref = self._task(resources, "packed").remote(payload, *refs)
            return self._watch(ref, None, packed=True, chained=True)
        with _unpicklable_as_invalid(fn):
            ref = self._task(resources, "after").remote(fn, args, kwargs, packed, *refs)
        return self._watch(ref, None, chained=True)

    def _watch(
        self, ref: Any, timeout: float | None, packed: bool = False, chained: bool = False
    ) -> Future[Any]:
        """A future that settles with the outcome of the task behind ``ref``.

        A chained task is watched by the :class:`RefWatcher`, not by a callback on Ray's
        I/O thread (see :mod:`runyard.executors._ray_watch`). A ``packed`` task's result
        is unpacked (see :mod:`runyard.executors._ray_payload`).
        """
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()
        timer: threading.Timer | None = None
        timed_out: threading.Event | None = None
        if timeout is not None:
            timed_out = threading.Event()

            def cancel(timed_out: threading.Event = timed_out) -> None:
                timed_out.set()
                self._ray.cancel(ref, force=True)

            timer = threading.Timer(timeout, cancel)
            timer.daemon = True
            timer.start()

        def settle(value: Any, error: BaseException | None) -> None:
            if timer is not None:
                timer.cancel()
            if error is None and packed:
                try:
                    value = unpack_result(value)
                except Exception as e:  # noqa: BLE001 - a value this process cannot load
                    error = e
            if error is None:
                future.set_result(value)
            else:
                late = timed_out is not None and timed_out.is_set()
                future.set_exception(self._translate(error, late, timeout))

        self._refs[future] = (ref, packed)
        if chained:
            self._watcher.watch(ref, settle)
            return future

        def settled(inner: Future[Any]) -> None:
            try:
                value = inner.result()
            except BaseException as e:  # noqa: BLE001 - translated, then handed to the caller
                settle(None, e)
            else:
                settle(value, None)

        ref.future().add_done_callback(settled)
        return future

    def submit_many(
        self,
        fn: Callable[..., T],
        calls: Sequence[tuple[tuple[Any, ...], Mapping[str, Any]]],
        /,
        *,
        resources: Resources | None = None,
        timeout: float | None = None,
        commit: Callable[[], object] | None = None,
    ) -> list[Future[T]]:
        """Run ``fn`` over ``calls`` in adaptive chunks: several calls to a Ray task.

        A chunk starts as one call and grows while calls finish fast, so slow calls still
        get a task each. Each call keeps its own result, error and lost-worker retries.
        Calls with a ``timeout`` are submitted one task each (a timeout stops a task).
        """
        if self._closed:
            raise InvalidArgument("this RayExecutor has been shut down")
        if timeout is not None or len(calls) <= 1:
            return super().submit_many(
                fn, calls, resources=resources, timeout=timeout, commit=commit
            )
        options = self._task_options(resources)
        slots = self._slots(resources or Resources())
        return self._chunks.submit(fn, calls, options, slots, commit)

    def _task(self, resources: Resources | None, kind: str = "call") -> Any:
        """The remote function with the options for ``resources`` (built once per shape)."""
        res = resources or Resources()
        key = (kind, res.cpus, res.gpus, res.memory, tuple(sorted(res.custom.items())))
        task = self._tasks.get(key)
        if task is None:
            options = self._task_options(res)
            # Ray's own defaults need no options: a task submitted with options costs Ray
            # about 25 us more of the driver's CPU (they are merged and checked each time).
            plain = options == _RAY_TASK_DEFAULTS
            task = self._remotes[kind] if plain else self._remotes[kind].options(**options)
            self._tasks[key] = task
        elif self._strict:  # nodes come and go: checked at every submit, on a recent table
            read = self._nodes_read
            if self._fits.get(key) != read or time.monotonic() - read > _NODE_TABLE_TTL_S:
                self._check_schedulable(res)
                self._fits[key] = self._nodes_read  # (the table it was found on)
        return task

    def _task_options(self, resources: Resources | None) -> dict[str, Any]:
        res = resources or Resources()
        if res.cpus < 0 or res.gpus < 0:
            raise InvalidArgument(f"resources must not be negative, got {res}")
        options: dict[str, Any] = {
            "num_cpus": res.cpus,
            "num_gpus": res.gpus,
            "max_retries": self._system_retries,
            "retry_exceptions": False,
        }
        if res.memory is not None:
            options["memory"] = res.memory
        if res.custom:
            options["resources"] = dict(res.custom)
        if self._strict:
            self._check_schedulable(res)
        return options

    def _live_nodes(self, refresh: bool) -> list[dict[str, float]]:
        # Reading the node table costs about a millisecond; a fan-out of thousands of tasks
        # reuses a recent copy, and a request it cannot place is rechecked on a fresh one.
        now = time.monotonic()
        if refresh or self._nodes is None or now - self._nodes_read > _NODE_TABLE_TTL_S:
            self._nodes = [n.get("Resources", {}) for n in self._ray.nodes() if n.get("Alive")]
            self._nodes_read = now
        return self._nodes

    @staticmethod
    def _wanted(res: Resources) -> dict[str, float]:
        wanted = {"CPU": res.cpus, "GPU": res.gpus, **res.custom}
        if res.memory is not None:
            wanted["memory"] = float(res.memory)
        return {k: v for k, v in wanted.items() if v > 0}

    def _slots(self, res: Resources) -> int:
        """How many tasks that need ``res`` the live nodes can run at once (at least 1)."""
        wanted = self._wanted(res) or {"CPU": 1.0}
        nodes = self._live_nodes(False)
        return max(1, sum(min(int(n.get(k, 0.0) // v) for k, v in wanted.items()) for n in nodes))

    def _check_schedulable(self, res: Resources) -> None:
        wanted = self._wanted(res)
        for refresh in (False, True):
            nodes = self._live_nodes(refresh)
            if any(all(node.get(k, 0.0) >= v for k, v in wanted.items()) for node in nodes):
                return
        largest = {k: max((n.get(k, 0.0) for n in nodes), default=0.0) for k in wanted}
        short = ", ".join(f"{k}={v:g} (largest node has {largest[k]:g})" for k, v in wanted.items())
        raise InvalidArgument(
            f"no node of the Ray cluster can run a task that needs {short}; "
            "lower the step's resources or add nodes (strict_resources=False on autoscaling "
            "clusters)"
        )

    def _translate(
        self, error: BaseException, timed_out: bool, timeout: float | None
    ) -> BaseException:
        exceptions = self._ray.exceptions
        original: BaseException = error  # isinstance on Ray's untyped classes widens to Any
        if isinstance(error, exceptions.TaskCancelledError) or (
            timed_out and isinstance(error, exceptions.RayError)
        ):
            if timed_out:
                return TaskTimeout(f"the task ran past its timeout of {timeout:g}s and was killed")
            return original
        if isinstance(error, exceptions.RayTaskError):
            cause: BaseException | None = (
                error.cause if isinstance(error.cause, BaseException) else None
            )
            if cause is not None:
                cause.__cause__ = RemoteTraceback(str(error))
                return cause
            return original
        lost = (
            exceptions.WorkerCrashedError,
            exceptions.NodeDiedError,
            exceptions.ObjectLostError,
            exceptions.OwnerDiedError,
            exceptions.LocalRayletDiedError,
        )
        if isinstance(error, lost):
            return WorkerLost(f"the Ray worker running the task was lost: {error}")
        if isinstance(error, exceptions.RaySystemError):
            return WorkerLost(f"Ray failed to run the task: {error}")
        return original

    def shutdown(self, wait: bool = True) -> None:
        """Stop using Ray; a Ray this executor started is shut down."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._chunks.close(wait)
        for ref, settle in self._watcher.close(wait):
            with contextlib.suppress(Exception):
                self._ray.cancel(ref, force=True)
            settle(None, WorkerLost("the executor was shut down"))
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
