"""What a pipeline run hands back: per-step records, progress events, the result, the error."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from runyard.entities import RunStatus
from runyard.errors import UserCodeError

__all__ = ["CacheUse", "PipelineFailed", "PipelineResult", "StepEvent", "StepRecord", "StepStatus"]


class StepStatus(enum.StrEnum):
    """Where one step call stands."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    CACHED = "CACHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def succeeded(self) -> bool:
        """True for FINISHED and CACHED."""
        return self in (StepStatus.FINISHED, StepStatus.CACHED)


class CacheUse(enum.StrEnum):
    """How a step call used the cache."""

    HIT = "hit"
    MISS = "miss"
    OFF = "off"
    RESUMED = "resumed"


@dataclass(frozen=True, slots=True)
class StepRecord:
    """One step call of a pipeline run.

    Attributes:
        node_id: the node in the graph.
        index: the item index for a ``.map()`` call, else None.
        status: how it ended.
        run_id: its tracked child run (None when it never started, e.g. upstream failed).
        cache: hit, miss, off (not cached; see ``cache_reason``) or resumed.
        cache_reason: why the call was not cached, when it was not.
        duration_s: seconds the call took (0 for hits).
        attempts: how many times it ran.
        error: the user's traceback (runyard frames trimmed) or the failure, when it failed.
        output_digest: the content hash of its stored output.
        worker: where it ran (``host:pid``, or ``ray node IP:pid``), when it ran.
    """

    node_id: str
    index: int | None
    status: StepStatus
    run_id: str | None
    cache: CacheUse
    cache_reason: str | None = None
    duration_s: float = 0.0
    attempts: int = 0
    error: str | None = None
    output_digest: str | None = None
    worker: str | None = None

    @property
    def label(self) -> str:
        """``node`` or ``node[i]``."""
        return self.node_id if self.index is None else f"{self.node_id}[{self.index}]"

    def with_run_id(self, run_id: str | None) -> StepRecord:
        """This record with ``run_id`` (as ``dataclasses.replace``, at half its cost)."""
        return StepRecord(
            self.node_id,
            self.index,
            self.status,
            run_id,
            self.cache,
            self.cache_reason,
            self.duration_s,
            self.attempts,
            self.error,
            self.output_digest,
            self.worker,
        )


@dataclass(frozen=True, slots=True)
class StepEvent:
    """A progress event: a step call changed status.

    Attributes:
        node_id: the node.
        index: the map index, or None.
        status: the new status.
        total: the number of step calls known so far in the run.
    """

    node_id: str
    index: int | None
    status: StepStatus
    total: int


@dataclass(frozen=True, slots=True)
class PipelineResult:
    """The outcome of ``pipeline.run()``.

    Attributes:
        value: what the pipeline returned (None when it failed).
        run_id: the tracked pipeline run.
        status: FINISHED, FAILED or KILLED.
        steps: every step call, in the order they settled.
    """

    value: Any
    run_id: str
    status: RunStatus
    steps: tuple[StepRecord, ...]

    def step(self, node_id: str) -> list[StepRecord]:
        """The records of one node (several for a ``.map()``), by index."""
        return sorted((s for s in self.steps if s.node_id == node_id), key=lambda s: s.index or 0)

    @property
    def failed(self) -> list[StepRecord]:
        """The calls that failed."""
        return [s for s in self.steps if s.status is StepStatus.FAILED]


class PipelineFailed(UserCodeError):
    """A step failed after its retries. ``result`` holds every step's record.

    The first failing step's exception is ``original`` (and ``__cause__``) when it could be
    carried back; its traceback text is in the failed :class:`StepRecord`.
    """

    def __init__(self, where: str, original: BaseException, result: PipelineResult) -> None:
        super().__init__(where, original)
        self.result = result
