"""Values that describe a training run: checkpoints, restarts, progress and the result.

All of them are frozen: they cross from the workers to the launcher to the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from runyard.entities import ArtifactRef, RunStatus

__all__ = ["CheckpointRef", "RestartRecord", "TrainProgress", "TrainResult", "TrainState"]


def _frozen(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class CheckpointRef:
    """A complete checkpoint recorded on a run.

    Attributes:
        epoch: the epoch it was taken at (the ``step`` of the report that saved it).
        metrics: the reported metrics at that epoch (as logged: reduced or rank 0's).
        artifact: the content-addressed blob that holds it, as recorded on the run.
        attempt: which attempt of the run wrote it (0 for the first).
        time_ms: when it was recorded, milliseconds since the epoch.
    """

    epoch: int
    metrics: Mapping[str, float]
    artifact: ArtifactRef
    attempt: int
    time_ms: int

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the checkpoint index stores these)."""
        a = self.artifact
        return {
            "epoch": self.epoch,
            "metrics": dict(self.metrics),
            "attempt": self.attempt,
            "time_ms": self.time_ms,
            "artifact": {"path": a.path, "digest": a.digest, "size": a.size, "uri": a.uri},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CheckpointRef:
        """The inverse of :meth:`to_json`."""
        a = data["artifact"]
        return cls(
            epoch=int(data["epoch"]),
            metrics=_frozen({k: float(v) for k, v in data["metrics"].items()}),
            artifact=ArtifactRef(a["path"], a["digest"], int(a["size"]), a["uri"]),
            attempt=int(data["attempt"]),
            time_ms=int(data["time_ms"]),
        )


@dataclass(frozen=True, slots=True)
class TrainState:
    """What :meth:`TrainContext.restore` hands back after loading a checkpoint.

    Attributes:
        epoch: the epoch the checkpoint was taken at; resume at ``epoch + 1``.
        metrics: the metrics reported with it.
        extra: the user's own picklable values saved with ``ctx.report(..., extra=...)``.
        checkpoint: the checkpoint it came from.
    """

    epoch: int
    metrics: Mapping[str, float]
    extra: Mapping[str, Any]
    checkpoint: CheckpointRef


@dataclass(frozen=True, slots=True)
class RestartRecord:
    """One restart of the worker group, as recorded on the run.

    Attributes:
        attempt: the attempt that starts with this restart (1 for the first restart).
        time_ms: when the failure was seen, milliseconds since the epoch.
        cause: what happened (``"worker lost: rank 1 ... killed by SIGKILL"``).
        resumed_from_epoch: the checkpoint's epoch the new attempt resumes from, None when
            no checkpoint existed yet (the attempt starts from scratch).
        world_size: how many workers the new attempt trains on (fewer than before when a
            node was lost and ``min_workers`` allowed it).
    """

    attempt: int
    time_ms: int
    cause: str
    resumed_from_epoch: int | None
    world_size: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "attempt": self.attempt,
            "time_ms": self.time_ms,
            "cause": self.cause,
            "resumed_from_epoch": self.resumed_from_epoch,
            "world_size": self.world_size,
        }


@dataclass(frozen=True, slots=True)
class TrainProgress:
    """A snapshot for live displays, published by rank 0 at every report.

    Attributes:
        attempt: the running attempt (0 for the first).
        epoch: the epoch of the last report.
        metrics: the metrics of the last report.
        restarts: how many restarts so far.
        checkpoints: how many checkpoints this run has recorded.
        world_size: how many workers the running attempt trains on.
    """

    attempt: int
    epoch: int | None
    metrics: Mapping[str, float]
    restarts: int
    checkpoints: int = 0
    world_size: int = 0


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What :func:`runyard.train` returns once the run is FINISHED.

    Attributes:
        run_id: the tracked run.
        status: FINISHED (a failed run raises instead of returning).
        metrics: the last reported metrics.
        checkpoint: the last checkpoint, None when the loop never saved one.
        best_checkpoint: the best checkpoint by the policy's metric (None without one).
        checkpoints: every checkpoint the retention policy kept, oldest first.
        restarts: every restart, in order.
    """

    run_id: str
    status: RunStatus
    metrics: Mapping[str, float]
    checkpoint: CheckpointRef | None
    best_checkpoint: CheckpointRef | None = None
    checkpoints: tuple[CheckpointRef, ...] = ()
    restarts: tuple[RestartRecord, ...] = field(default_factory=tuple)
