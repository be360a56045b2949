"""Errors specific to training runs."""

from __future__ import annotations

from runyard.executors import WorkerLost

__all__ = ["NotEnoughWorkers"]


class NotEnoughWorkers(WorkerLost):
    """The cluster cannot host ``min_workers`` workers within ``placement_timeout``.

    Raised by :func:`runyard.train` (the run ends FAILED) when a start or a restart finds
    too little capacity — for example after a node was lost and ``min_workers`` forbids
    training on fewer workers. A :class:`~runyard.executors.WorkerLost`, so code that
    catches lost workers catches it too.
    """
