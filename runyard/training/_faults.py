"""A fault-injection hook for tests and benchmarks: SIGKILL a chosen rank at a chosen point.

Set ``RUNYARD_TRAIN_FAULT`` in the environment of the workers, for example
``rank=1,epoch=3,attempt=0,at=batch``: rank 1 kills its own process with SIGKILL in the
middle of epoch 3 of the first attempt (``attempt=*`` fires on every attempt). ``at`` is
``batch`` (mid-epoch, inside ``ctx.loader``) or ``checkpoint`` (rank 0 only: after the
checkpoint's bytes are in the artifact store, before the run records them). Nothing happens
when the variable is unset.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

from runyard.errors import InvalidArgument

__all__ = ["FAULT_ENV", "FaultPlan", "maybe_die"]

FAULT_ENV = "RUNYARD_TRAIN_FAULT"


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Where to die."""

    rank: int
    epoch: int
    attempt: int | None
    at: str

    @classmethod
    def from_env(cls) -> FaultPlan | None:
        """The plan in ``$RUNYARD_TRAIN_FAULT``, or None."""
        text = os.environ.get(FAULT_ENV, "").strip()
        if not text:
            return None
        try:
            fields = dict(part.split("=", 1) for part in text.split(","))
            attempt = fields.get("attempt", "0")
            plan = cls(
                rank=int(fields["rank"]),
                epoch=int(fields["epoch"]),
                attempt=None if attempt == "*" else int(attempt),
                at=fields.get("at", "batch"),
            )
        except (KeyError, ValueError) as e:
            raise InvalidArgument(
                f"{FAULT_ENV}={text!r}: expected "
                "'rank=R,epoch=E[,attempt=A|*][,at=batch|checkpoint]'"
            ) from e
        if plan.at not in ("batch", "checkpoint"):
            raise InvalidArgument(f"{FAULT_ENV}: 'at' must be batch or checkpoint, got {plan.at!r}")
        return plan


def maybe_die(plan: FaultPlan | None, rank: int, epoch: int | None, attempt: int, at: str) -> None:
    """SIGKILL this process when ``plan`` says so."""
    if plan is None or plan.at != at or plan.rank != rank or plan.epoch != epoch:
        return
    if plan.attempt is not None and plan.attempt != attempt:
        return
    os.kill(os.getpid(), signal.SIGKILL)
