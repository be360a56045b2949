"""The runner's bookkeeping values: attempts at step calls and the state of each node."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from runyard.pipelines._inputs import Call, NodeOutput
from runyard.pipelines._recorder import PendingRun
from runyard.pipelines.cache_key import KeyComponents

__all__ = ["Attempt", "NodeState", "Prior", "bare_hex"]

Prior = tuple[str, str, str]  # digest, serializer, run id


def bare_hex(digest: str) -> str:
    """``sha256:<hex>`` → ``<hex>``: inputs are keyed by the bare content hash."""
    return digest.rpartition(":")[2]


@dataclass(slots=True)
class Attempt:
    """One attempt at a step call: its run (written or queued), its number, its cache key."""

    call: Call
    run: PendingRun
    number: int
    key: str | None
    components: KeyComponents | None
    reason: str | None
    started: float = field(default_factory=time.perf_counter)


@dataclass(slots=True)
class NodeState:
    """Where a node stands: calls known, outputs done, failed, started."""

    calls: int = 0
    done: dict[int | None, NodeOutput] = field(default_factory=dict)
    failed: bool = False
    started: bool = False
