"""Packing many short calls into fewer tasks: the adaptive chunk size and the worker's loop.

An executor whose per-task cost is high next to a short call (a Ray task costs about a
millisecond to schedule) runs a fan-out's calls in *chunks*: one task calls the function for
several argument sets, one after the other, and hands back one outcome per call as soon as
that call is done. :class:`ChunkSizer` picks how many calls go into the next chunk, the way
joblib's ``batch_size="auto"`` does: one call per chunk until the calls' duration is known,
then as many as fit in :data:`TARGET_CHUNK_S`, so slow calls always run one per task (never
queued behind each other) and fast calls stop paying the per-task cost.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = [
    "COMMIT_EVERY_S",
    "MAX_CHUNK",
    "TARGET_CHUNK_S",
    "ChunkSizer",
    "ItemOutcome",
    "run_chunk",
]

TARGET_CHUNK_S = 0.05
"""How long one chunk should keep its worker busy, in seconds of the calls' own run time."""

MAX_CHUNK = 1024
"""The most calls one chunk carries, however fast they are."""

COMMIT_EVERY_S = 0.05
"""With a ``commit``, how long finished calls may wait for the next group commit."""

ItemOutcome = tuple[bool, Any, str, float]
"""``(ok, value or exception, traceback text, seconds)`` of one call in a chunk."""


class ChunkSizer:
    """The adaptive chunk size of one fan-out.

    Args:
        target_s: the run time one chunk should have.
        max_size: the largest chunk.

    Example:
        >>> sizer = ChunkSizer()
        >>> sizer.next_size(remaining=1000, workers=2)  # nothing measured yet: one call
        1
        >>> sizer.observe(calls=4, seconds=0.002)  # 0.5 ms a call
        >>> sizer.next_size(remaining=1000, workers=2)  # 100 fit in 50 ms
        100
        >>> sizer.next_size(remaining=40, workers=2)  # keep every worker busy to the end
        10
    """

    def __init__(self, target_s: float = TARGET_CHUNK_S, max_size: int = MAX_CHUNK) -> None:
        if target_s <= 0 or max_size < 1:
            raise ValueError(f"target_s must be > 0 and max_size >= 1, got {target_s}, {max_size}")
        self.target_s = target_s
        self.max_size = max_size
        self.per_call_s: float | None = None

    def observe(self, calls: int, seconds: float) -> None:
        """Record that ``calls`` calls took ``seconds`` of run time in all."""
        if calls <= 0:
            return
        mean = max(seconds, 0.0) / calls
        if self.per_call_s is None:
            self.per_call_s = mean
        elif mean < self.per_call_s:  # a cold first call (imports, warm-up) is forgotten fast
            self.per_call_s = 0.5 * self.per_call_s + 0.5 * mean
        else:
            self.per_call_s = 0.8 * self.per_call_s + 0.2 * mean

    def next_size(self, remaining: int, workers: int) -> int:
        """How many of the ``remaining`` calls the next chunk takes, with ``workers`` workers."""
        if self.per_call_s is None or remaining <= 1:
            return 1
        ideal = int(self.target_s / max(self.per_call_s, 1e-7))
        balanced = math.ceil(remaining / (2 * max(1, workers)))
        return max(1, min(ideal, balanced, self.max_size, remaining))


def _travels(error: BaseException) -> BaseException:
    """``error`` if it can be pickled back to the caller, else a RuntimeError that says it."""
    import cloudpickle  # type: ignore[import-untyped]

    try:
        cloudpickle.dumps(error)
    except Exception:  # an exception type that cannot be pickled
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> ItemOutcome:
    start = time.perf_counter()
    try:
        value = fn(*args, **kwargs)
    except Exception as e:  # the call's own error is its outcome
        return False, _travels(e), traceback.format_exc(), time.perf_counter() - start
    return True, value, "", time.perf_counter() - start


def run_chunk(
    fn: Callable[..., Any],
    calls: Sequence[tuple[tuple[Any, ...], dict[str, Any]]],
    commit: Callable[[], object] | None = None,
) -> Iterator[ItemOutcome]:
    """Call ``fn(*args, **kwargs)`` for each call, yielding each outcome as soon as it is known.

    An exception a call raises is its outcome (the next call still runs); whatever the
    calls do not raise as an :class:`Exception` (the process killed, ``SystemExit``) ends
    the chunk, and the caller reruns the calls it has no outcome for.

    With ``commit``, outcomes are held back until ``commit()`` has run: once the oldest
    held outcome is :data:`COMMIT_EVERY_S` old, and after the last call. A commit that
    raises fails the calls it was for.
    """
    if commit is None:
        for args, kwargs in calls:
            yield _call(fn, args, kwargs)
        return
    held: list[ItemOutcome] = []
    oldest = 0.0
    for i, (args, kwargs) in enumerate(calls):
        if not held:
            oldest = time.perf_counter()
        held.append(_call(fn, args, kwargs))
        if i + 1 < len(calls) and time.perf_counter() - oldest < COMMIT_EVERY_S:
            continue
        try:
            commit()
        except Exception as e:  # nothing held is known to be durable: all of it failed
            error = _travels(e)
            text = traceback.format_exc()
            held = [(False, error, text, took) for _, _, _, took in held]
        for outcome in held:  # noqa: UP028 - Ray drives the generator with send()
            yield outcome
        held = []
