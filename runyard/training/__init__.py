"""Distributed training: data-parallel PyTorch on N workers, checkpointed and restarted.

``train(fn, workers=N)`` runs ``fn(ctx)`` on N workers (local processes or Ray workers) as
one tracked run; see :func:`runyard.training.api.train` and :class:`TrainContext`.

Example:
    >>> import runyard as ry
    >>> result = ry.train(train_loop, config={"lr": 0.05}, workers=2)  # doctest: +SKIP
"""

from __future__ import annotations

from runyard.training.api import train
from runyard.training.checkpoint import CheckpointPolicy, load_checkpoint
from runyard.training.context import TrainContext
from runyard.training.errors import NotEnoughWorkers
from runyard.training.result import (
    CheckpointRef,
    RestartRecord,
    TrainProgress,
    TrainResult,
    TrainState,
)
from runyard.training.sampler import ShardedSampler

__all__ = [
    "CheckpointPolicy",
    "CheckpointRef",
    "NotEnoughWorkers",
    "RestartRecord",
    "ShardedSampler",
    "TrainContext",
    "TrainProgress",
    "TrainResult",
    "TrainState",
    "load_checkpoint",
    "train",
]
