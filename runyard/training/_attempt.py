"""How one attempt of a worker group ended, shared by the launchers."""

from __future__ import annotations

from dataclasses import dataclass

from runyard.training._spec import WorkerOutcome

__all__ = ["AttemptOutcome", "classify"]


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """How one attempt of the whole group ended.

    Attributes:
        ok: every worker's function returned.
        retryable: a worker was lost (not an error in the user's code).
        cause: a one-line description of the failure ("" when ok).
        user_error: the failing worker's outcome when the user's code raised.
        failed_at_ms: when the driver saw the failure, milliseconds since the epoch.
    """

    ok: bool
    retryable: bool = False
    cause: str = ""
    user_error: WorkerOutcome | None = None
    failed_at_ms: int = 0


def classify(
    outcomes: list[WorkerOutcome], lost: list[tuple[int, BaseException]], failed_at_ms: int
) -> AttemptOutcome:
    """Tell success, a user error (final) and a lost worker (retryable) apart.

    Args:
        outcomes: what the workers that did not die reported, in the order they ended.
        lost: (rank, error) of each worker whose executor reported it lost.
        failed_at_ms: when the driver saw the first failure.
    """
    if not lost and all(o.ok for o in outcomes):
        return AttemptOutcome(ok=True)
    user = [o for o in outcomes if not o.ok and not o.communication]
    if user:
        first = user[0]
        name = first.error_type.rpartition(".")[2]
        return AttemptOutcome(
            ok=False,
            retryable=False,
            cause=f"rank {first.rank} raised {name}: {first.message}",
            user_error=first,
            failed_at_ms=failed_at_ms,
        )
    if lost:
        rank, error = lost[0]
        cause = f"worker lost: rank {rank}: {error}"
    else:
        first = next(o for o in outcomes if not o.ok)
        cause = f"worker group broken: rank {first.rank}: {first.message.splitlines()[0]}"
    return AttemptOutcome(ok=False, retryable=True, cause=cause, failed_at_ms=failed_at_ms)
