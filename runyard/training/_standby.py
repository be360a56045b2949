"""What a warm worker process imports, and its CPU priority.

The zygote (:mod:`runyard.training._zygote`) imports :data:`BASE_MODULES` and the training
function's module before the first attempt, and later — at the lowest CPU priority, where
it can be raised back — the modules rank 0 reports the running workers imported
(:func:`importable_modules`). A worker forked from it goes back to normal priority
(:func:`take_over`).
"""

from __future__ import annotations

import importlib
import os
import sys
import sysconfig
from collections.abc import Callable, Iterable

__all__ = ["BASE_MODULES", "importable_modules", "warm_up"]

BASE_MODULES = (
    "torch",
    "torch.distributed",
    "torch.nn.parallel",
    "torch._dynamo",  # DistributedDataParallel() imports it (and ~800 modules) on first use
    "runyard.training._worker",
    "runyard.tracking.client",
)
_LOW_PRIORITY = 19


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


def warm_up(
    modules: Iterable[str],
    low_priority: bool = True,
    between: Callable[[], bool] | None = None,
) -> int:
    """Import ``modules`` in this (zygote) process; returns this pid.

    Args:
        modules: what to import besides :data:`BASE_MODULES`.
        low_priority: import at the lowest CPU priority (beside a training group).
        between: called between two imports; True stops importing (the zygote serves
            forks there, and a restart abandons the rest of the list rather than compete
            with its workers for CPU).
    """
    if low_priority and os.geteuid() == 0:  # only where take_over() can undo it
        os.setpriority(os.PRIO_PROCESS, 0, _LOW_PRIORITY)
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


def take_over() -> None:
    """Back to normal priority: this standby process now runs a rank."""
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) > 0:
            os.setpriority(os.PRIO_PROCESS, 0, 0)
    except OSError:  # lowering niceness needs privileges; the rank runs niced then
        pass
