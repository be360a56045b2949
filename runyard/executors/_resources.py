"""Checks that a task's resources can ever be met on this machine (shared by local executors)."""

from __future__ import annotations

import os

from runyard.errors import InvalidArgument
from runyard.executors.base import Resources

__all__ = ["check_local_resources"]


def check_local_resources(resources: Resources | None, executor: str) -> None:
    """Refuse resources that this machine can never provide.

    Args:
        resources: what the task asks for (None asks for nothing special).
        executor: the executor's name, for the message.

    Raises:
        InvalidArgument: more CPUs or memory than the machine has, a negative amount,
            or a custom resource (local executors have none).
    """
    if resources is None:
        return
    total_cpus = os.cpu_count() or 1
    if resources.cpus < 0 or resources.gpus < 0:
        raise InvalidArgument(f"resources must not be negative, got {resources}")
    if resources.cpus > total_cpus:
        raise InvalidArgument(
            f"the {executor} executor has {total_cpus} CPUs; a task asked for {resources.cpus:g}"
        )
    if resources.memory is not None:
        import psutil

        total = psutil.virtual_memory().total
        if resources.memory > total:
            raise InvalidArgument(
                f"the {executor} executor has {total} bytes of memory; "
                f"a task asked for {resources.memory}"
            )
    if resources.custom:
        names = ", ".join(sorted(resources.custom))
        raise InvalidArgument(
            f"the {executor} executor has no custom resources (asked for {names}); "
            "use the ray executor"
        )
