"""Warm standby workers: processes that have already imported what training needs.

Starting a worker costs an interpreter and the imports (torch alone takes seconds); on a
restart that is most of the time to recovery. So while an attempt trains, the local launcher
keeps a standby pool of N processes that have imported torch, runyard's training modules and
the third-party and standard-library modules the running workers had imported (rank 0
publishes their names). A restart hands the new attempt's ranks to the standby at once.
The standby imports at the lowest CPU priority, so that it does not slow the training next
to it, and the worker that takes a rank goes back to normal priority. Raising priority again
needs privileges, so without them the standby imports at normal priority.
"""

from __future__ import annotations

import importlib
import os
import sys
import sysconfig
from collections.abc import Iterable

__all__ = ["BASE_MODULES", "importable_modules", "warm_up"]

BASE_MODULES = (
    "torch",
    "torch.distributed",
    "torch.nn.parallel",
    "runyard.training._worker",
    "runyard.tracking.client",
)
_LOW_PRIORITY = 19


def importable_modules() -> list[str]:
    """Top-level modules this process imported from site-packages or the standard library."""
    roots = {
        os.path.realpath(p)
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (p := sysconfig.get_paths().get(key))
    }
    names = set()
    for name, module in list(sys.modules.items()):
        if "." in name or name.startswith("_") or name == "__main__":
            continue
        path = getattr(module, "__file__", None)
        if path and any(os.path.realpath(path).startswith(r + os.sep) for r in roots):
            names.add(name)
    return sorted(names)


def warm_up(modules: Iterable[str], low_priority: bool = True) -> int:
    """Import ``modules`` in this (standby) process; returns this pid.

    Args:
        modules: what to import besides :data:`BASE_MODULES`.
        low_priority: import at the lowest CPU priority (a standby beside a training group).
    """
    if low_priority and os.geteuid() == 0:  # only where take_over() can undo it
        os.setpriority(os.PRIO_PROCESS, 0, _LOW_PRIORITY)
    for name in (*BASE_MODULES, *modules):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - a module that fails to import is just not warm
            continue
    return os.getpid()


def wake_children() -> None:
    """Back to normal priority for this process's niced children (the standby taking over).

    Called by the driver when a restart hands the ranks to the standby, so that a standby
    still importing does not finish at the lowest priority.
    """
    import psutil

    try:
        children = psutil.Process().children()
    except psutil.Error:
        return
    for child in children:
        try:
            if child.nice() > 0:
                child.nice(0)
        except psutil.Error:  # gone, or not ours to change
            continue


def take_over() -> None:
    """Back to normal priority: this standby process now runs a rank."""
    try:
        if os.getpriority(os.PRIO_PROCESS, 0) > 0:
            os.setpriority(os.PRIO_PROCESS, 0, 0)
    except OSError:  # lowering niceness needs privileges; the rank runs niced then
        pass
