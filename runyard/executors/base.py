"""The executor contract: where steps, trials, training workers and eval shards run.

An :class:`Executor` runs a picklable callable somewhere (this thread, a local process pool,
a Ray cluster) and hands back a :class:`concurrent.futures.Future` for its result.

Contract, for every implementation:

* **submit** never blocks on the work itself; it may block briefly for back-pressure.
* **Results** are the callable's return value, whichever executor ran it; an exception the
  callable raised is re-raised by ``future.result()`` as that same exception type (with the
  remote traceback kept as ``__cause__`` where the executor can carry it).
* **Lost workers** (a process killed, a node gone) surface as :class:`WorkerLost` from
  ``future.result()``, never as a hang; callers decide whether to retry.
* **Resources** that the executor can never satisfy fail fast in ``submit`` with
  :class:`~runyard.errors.InvalidArgument`.
* **Timeouts**: with ``timeout=`` seconds, a task still running after that long is stopped
  (its worker killed where the work cannot be interrupted) and ``future.result()`` raises
  :class:`TaskTimeout`. Executors that cannot stop a running task say so through
  :attr:`Executor.supports_timeouts` and ignore ``timeout``.
* **Many calls**: ``submit_many`` schedules one function over many argument sets, one future
  per call with the same contract as ``submit`` (each call its own result, its own error,
  its own ``WorkerLost``). Executors where a task costs more than a short call may pack
  several calls into one task (:attr:`Executor.batches_tasks`); the default submits them
  one by one.
* **Chains**: executors that :attr:`Executor.chains_tasks` take ``submit_after``: a call
  that needs the results of earlier futures is handed to the workers at once and waits
  there for them, without a round trip through the caller between the two tasks.
* **Thread-safety**: ``submit`` and ``submit_many`` may be called from several threads.
* ``shutdown(wait=True)`` waits for submitted work; the executor is unusable afterwards.

Implementations pass :mod:`runyard.testing.executor`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType, TracebackType
from typing import Any, ParamSpec, TypeVar

from runyard.errors import InvalidArgument, RunyardError

__all__ = ["Executor", "Resources", "TaskTimeout", "WorkerLost"]

P = ParamSpec("P")
T = TypeVar("T")


class WorkerLost(RunyardError):
    """The worker running a task died (killed, out of memory, node lost)."""


class TaskTimeout(RunyardError, TimeoutError):
    """A task ran past its ``timeout`` and was stopped."""


@dataclass(frozen=True, slots=True)
class Resources:
    """What one task needs.

    Attributes:
        cpus: CPU cores.
        gpus: GPUs (fractions allowed where the executor supports them).
        memory: bytes of memory, or None for no reservation.
        custom: custom resources by name (Ray's ``resources=``).
    """

    cpus: float = 1.0
    gpus: float = 0.0
    memory: int | None = None
    custom: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))


def _call_then_commit(
    fn: Callable[..., T], commit: Callable[[], object], /, *args: Any, **kwargs: Any
) -> T:
    value = fn(*args, **kwargs)
    commit()
    return value


class Executor(abc.ABC):
    """Runs callables and returns futures."""

    name: str = "executor"

    @abc.abstractmethod
    def submit(
        self,
        fn: Callable[..., T],
        /,
        *args: Any,
        resources: Resources | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Future[T]:
        """Schedule ``fn(*args, **kwargs)`` and return a future for its result.

        ``timeout`` (seconds) bounds the task's run time where :attr:`supports_timeouts`.

        Raises:
            InvalidArgument: ``resources`` can never be satisfied by this executor.
        """

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
        """Schedule ``fn(*args, **kwargs)`` for each ``(args, kwargs)`` of ``calls``.

        The calls share ``fn``, ``resources`` and ``timeout``; the futures come back in the
        order of ``calls``, and each behaves as one from :meth:`submit` would. This default
        submits the calls one by one; executors that :attr:`batches_tasks` pack them.

        ``commit``, when given, runs where the calls run, after one or more calls and
        before their outcomes are handed back (to make their writes durable in one group,
        say); an error it raises fails those calls. A call whose worker is lost before its
        group is committed counts as not finished: it runs again.

        Raises:
            InvalidArgument: ``resources`` can never be satisfied by this executor.

        Example:
            >>> from runyard.executors import get_executor
            >>> with get_executor("inline") as ex:
            ...     [f.result() for f in ex.submit_many(pow, [((2, 3), {}), ((3, 2), {})])]
            [8, 9]
        """
        task: Callable[..., T] = fn if commit is None else partial(_call_then_commit, fn, commit)
        return [
            self.submit(task, *args, resources=resources, timeout=timeout, **kwargs)
            for args, kwargs in calls
        ]

    def submit_after(
        self,
        fn: Callable[..., T],
        after: Sequence[Future[Any]],
        /,
        *args: Any,
        resources: Resources | None = None,
        **kwargs: Any,
    ) -> Future[T]:
        """Schedule ``fn([results of after], *args, **kwargs)`` once ``after`` have finished.

        ``after`` are futures this executor returned. The call goes to the workers now and
        starts there as soon as the last of them has its result; if one of them fails, ``fn``
        never runs and the returned future raises that error. Only executors that
        :attr:`chains_tasks` take it.

        Raises:
            InvalidArgument: the executor does not chain tasks, a future of ``after`` is not
                one of its own, or ``resources`` can never be satisfied.
        """
        raise InvalidArgument(f"the {self.name} executor does not chain tasks (chains_tasks)")

    @property
    def chains_tasks(self) -> bool:
        """True when :meth:`submit_after` hands a call to the workers before its inputs exist."""
        return False

    @property
    def batches_tasks(self) -> bool:
        """True when :meth:`submit_many` packs several calls into one task."""
        return False

    @property
    def supports_timeouts(self) -> bool:
        """True when ``submit(..., timeout=)`` stops a task that runs too long."""
        return False

    @property
    def isolates_tasks(self) -> bool:
        """True when a task that kills its own process cannot take the caller down."""
        return False

    @property
    def parallelism(self) -> int:
        """How many tasks may run at once (1 for inline)."""
        return 1

    def describe_worker(self) -> str:
        """A short, human-readable name of where tasks run (for progress displays)."""
        return self.name

    @abc.abstractmethod
    def shutdown(self, wait: bool = True) -> None:
        """Release workers; with ``wait``, finish submitted work first."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown(wait=exc is None)
