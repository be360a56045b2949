"""What the launcher sends to each worker, and what each worker sends back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runyard.training._rendezvous import RendezvousInfo
from runyard.training.checkpoint import CheckpointPolicy
from runyard.training.result import CheckpointRef

__all__ = ["RemoteTraceback", "WorkerOutcome", "WorkerSpec"]


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """One worker's marching orders for one attempt.

    Attributes:
        fn: the user's training function, called with a ``TrainContext``.
        config: the user's config (a plain dict: it travels by pickle).
        rank: global rank.
        world_size: number of workers.
        local_rank: rank among the workers of its machine.
        attempt: 0 for the first attempt, n after n restarts.
        seed: the run's seed.
        rendezvous: where the group meets.
        run_id: the tracked run.
        tracking_uri: the tracking store (resolved by the driver).
        artifact_uri: the artifact store (resolved by the driver).
        policy: checkpoint retention.
        index: the run's checkpoints when the attempt started (the last one is resumed).
        cpus: CPU threads for this worker's torch.
        gpus: GPUs per worker (0 for CPU training).
        collective_timeout_s: how long a collective may wait for a peer.
    """

    fn: Callable[..., Any]
    config: dict[str, Any]
    rank: int
    world_size: int
    local_rank: int
    attempt: int
    seed: int
    rendezvous: RendezvousInfo
    run_id: str
    tracking_uri: str
    artifact_uri: str
    policy: CheckpointPolicy
    index: tuple[CheckpointRef, ...]
    cpus: float
    gpus: float
    collective_timeout_s: float

    @property
    def resume_from(self) -> CheckpointRef | None:
        """The checkpoint this attempt resumes from (the latest), if any."""
        return max(self.index, key=lambda c: c.epoch) if self.index else None


@dataclass(frozen=True, slots=True)
class WorkerOutcome:
    """How one worker's run of the training function ended (it did not die).

    Attributes:
        rank: the worker's rank.
        ok: the function returned.
        error_type: the exception's qualified type name when it raised.
        message: ``str(exception)``.
        traceback: the formatted traceback, user frames included.
        communication: the error came from torch.distributed (a peer vanished, a collective
            timed out) rather than from the user's own logic.
        exception: the exception itself when it could be pickled, else None.
    """

    rank: int
    ok: bool
    error_type: str = ""
    message: str = ""
    traceback: str = ""
    communication: bool = False
    exception: BaseException | None = None


class RemoteTraceback(Exception):
    """Carries a worker's formatted traceback as the ``__cause__`` of the user's exception."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'
