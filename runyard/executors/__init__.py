"""Executors: where steps, trials and eval shards run.

``get_executor`` turns a name (``"inline"``, ``"process"``, ``"ray"``) into an executor;
see :mod:`runyard.executors.base` for the contract every executor keeps.

Example:
    >>> from runyard.executors import get_executor
    >>> with get_executor("inline") as ex:
    ...     ex.submit(len, "abc").result()
    3
"""

from __future__ import annotations

from runyard.executors.base import Executor, Resources, TaskTimeout, WorkerLost
from runyard.executors.factory import get_executor
from runyard.executors.inline import InlineExecutor
from runyard.executors.process import ProcessExecutor

__all__ = [
    "Executor",
    "InlineExecutor",
    "ProcessExecutor",
    "Resources",
    "TaskTimeout",
    "WorkerLost",
    "get_executor",
]
