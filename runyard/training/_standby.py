"""What a warm worker process imports, and its CPU scheduling.

The zygote (:mod:`runyard.training._zygote`) imports :data:`BASE_MODULES` and the training
function's module before the first attempt, and later — when the machine has a CPU the
workers leave free (:func:`spare_cpu`), under ``SCHED_IDLE`` where that can be undone (as
root) — the modules rank 0 reports the running workers imported
(:func:`importable_modules`). A worker forked from it goes back to normal scheduling
(:func:`take_over`).

Why ``SCHED_IDLE`` and not ``nice 19``: that later import runs while the workers train and
costs one to two seconds of CPU. A nice-19 process is still a normal task: under the EEVDF
scheduler a worker waking up from a collective may wait for the niced process's slice to
end, a delay on every batch of a data-parallel loop. A ``SCHED_IDLE`` process is preempted
as soon as a normal task wakes up, so it only fills the moments the workers leave idle.

Why only on a spare CPU: where the workers fill every CPU (two workers on two cores), those
idle moments are a worker waiting for its peer in a collective, a millisecond at a time.
An import running there stretches over the whole training (1.6 s of CPU in the gaps: every
epoch of the digits benchmark) and slows the steps it lands next to (up to about 10 % per
epoch in A/B runs; docs/benchmarks.md). There the restart's workers import those modules
themselves, in parallel, which costs them about the same wall time as one import in the
zygote would.
"""

from __future__ import annotations

import importlib
import math
import os
import sys
import sysconfig
from collections.abc import Callable, Iterable

__all__ = ["BASE_MODULES", "importable_modules", "spare_cpu", "take_over", "warm_up"]

BASE_MODULES = (
    "torch",
    "torch.distributed",
    "torch.nn.parallel",
    "torch._dynamo",  # DistributedDataParallel() imports it (and ~800 modules) on first use
    "runyard.training._worker",
    "runyard.tracking.client",
)


def importable_modules() -> list[str]:
    """Public modules this process imported from site-packages or the standard library.

    Submodules are included (``sklearn.datasets`` is what costs, not ``sklearn``); private
    ones (a ``_`` component) come in with their public parents.
    """
    roots = {
        os.path.realpath(p)
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (p := sysconfig.get_paths().get(key))
    }
    names: dict[str, None] = {}  # in import order: what a worker needs first comes first
    for name, module in list(sys.modules.items()):
        if name == "__main__" or any(part.startswith("_") for part in name.split(".")):
            continue
        path = getattr(module, "__file__", None)
        if path and any(os.path.realpath(path).startswith(r + os.sep) for r in roots):
            names[name] = None
    return list(names)


def spare_cpu(worker_cpus: float) -> bool:
    """True when this process may use more CPUs than the workers' ``worker_cpus`` in all.

    Args:
        worker_cpus: the CPUs the local workers use together (workers × cpus per worker).
    """
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity on this platform: every CPU counts
        available = os.cpu_count() or 1
    return available > math.ceil(worker_cpus)


def warm_up(
    modules: Iterable[str],
    low_priority: bool = True,
    between: Callable[[], bool] | None = None,
) -> int:
    """Import ``modules`` in this (zygote) process; returns this pid.

    Args:
        modules: what to import besides :data:`BASE_MODULES`.
        low_priority: import under ``SCHED_IDLE`` (beside a training group), where
            :func:`take_over` can undo it.
        between: called between two imports; True stops importing (the zygote serves
            forks there, and a restart abandons the rest of the list rather than compete
            with its workers for CPU).
    """
    if low_priority and os.geteuid() == 0:  # only where take_over() can undo it
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    for name in (*BASE_MODULES, *modules):
        if between is not None and between():
            break
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - a module that fails to import is just not warm
            continue
    return os.getpid()


def take_over(pid: int = 0) -> None:
    """Back to normal scheduling: this standby process (or ``pid``) now runs a rank.

    Leaves alone a process that was never put in ``SCHED_IDLE`` (its nice value is the
    user's choice).
    """
    try:
        if os.sched_getscheduler(pid) == os.SCHED_IDLE:
            os.sched_setscheduler(pid, os.SCHED_OTHER, os.sched_param(0))
    except OSError:  # leaving SCHED_IDLE needs privileges; the rank runs idle-scheduled then
        pass
