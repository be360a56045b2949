"""Cache hits whose output is read only when a running step or the caller needs it.

A hit's cache entry names its output's digest, which is all that the keys of the steps
after it need. So the runner answers a hit without reading the blob: the node's output
holds :data:`UNLOADED` and the digest, and a :class:`LazyHit` remembers how to read it.
The blob is read (and verified against its digest) only when a step that runs, or the
pipeline's return value, needs the value; a chain that is all hits reads only the last
output.

A hit stays *unconfirmed* — its step run not yet queued, its progress event not yet
reported — until its value has been read, or until no step that could need the value is
left to start. An output that then turns out missing or corrupt is never used: the runner
drops the unconfirmed hit and runs the call again (see ``runyard.pipelines._hit_reads``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from runyard.pipelines._inputs import Call

__all__ = ["NOT_A_SEQUENCE", "UNLOADED", "LazyHit"]

NOT_A_SEQUENCE: Final = frozenset(
    {"numpy", "numpy-dict", "pandas-parquet", "polars-parquet", "arrow-parquet"}
)
"""Serializers that never load a list or tuple: a ``.map()`` never fans out over their
outputs, so it does not need to read them to know how many calls it makes."""


class _Unloaded:
    """The value of a hit's output that nothing has read yet (never handed to user code)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<cached output, not loaded>"


UNLOADED: Final = _Unloaded()
"""Stands for a hit's output value until it is read."""


@dataclass(slots=True)
class LazyHit:
    """A call answered from the cache whose output has not been read.

    Attributes:
        call: the step call.
        key: its cache key.
        digest: its output's digest (``sha256:<hex>``), from the cache entry.
        serializer: how the output is stored.
        source_run: the run that produced the output ("" when unknown).
        slot: the index of its record among the runner's step records.
        confirmed: whether its run is queued (as a hit) already.
    """

    call: Call
    key: str
    digest: str
    serializer: str
    source_run: str
    slot: int
    confirmed: bool = False
