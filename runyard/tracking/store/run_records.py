"""Records for the bulk methods of a tracking store, and their store-independent checks.

:class:`NewRun` (for :meth:`~runyard.tracking.store.base.TrackingStore.create_runs`) and
:class:`RunEnd` (for :meth:`~runyard.tracking.store.base.TrackingStore.end_runs`) are frozen
values; :func:`check_new_run` and :func:`check_run_end` refuse what every backend refuses,
before anything is written. :mod:`runyard.tracking.store.base` re-exports all four.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from runyard._internal.limits import (
    MAX_KEY_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
)
from runyard.entities import ArtifactRef, LineageEdge, RunStatus
from runyard.errors import InvalidArgument

__all__ = ["NewRun", "RunEnd", "check_new_run", "check_run_end"]

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class NewRun:
    """A run to create with :meth:`TrackingStore.create_runs`, complete from the start.

    Attributes:
        experiment_id: the experiment.
        name: the run name (default ``run-<first 8 hex of the id>``).
        start_time: milliseconds since the epoch (default: now).
        status: the status it is created with; a terminal one needs ``end_time``.
        end_time: milliseconds since the epoch, or None while it runs.
        params: params to set on it.
        tags: tags to set on it.
        parent_run_id: the parent run, which must exist already.
        artifact_uri: default ``<experiment artifact_location>/<run_id>``.

    Example:
        >>> from runyard.entities import RunStatus
        >>> NewRun("1", "cached-step", status=RunStatus.FINISHED, end_time=0).status.value
        'FINISHED'
    """

    experiment_id: str
    name: str | None = None
    start_time: int | None = None
    status: RunStatus = RunStatus.RUNNING
    end_time: int | None = None
    params: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    parent_run_id: str | None = None
    artifact_uri: str | None = None


@dataclass(frozen=True, slots=True)
class RunEnd:
    """How a run ended, for :meth:`TrackingStore.end_runs`: its last params, tags and records.

    Attributes:
        run_id: the run, which must exist.
        status: the status to set (usually terminal).
        end_time: milliseconds since the epoch.
        params: params to set (an existing param must keep its value).
        tags: tags to set or overwrite.
        artifacts: artifact refs to record on the run (a path recorded again is replaced).
        lineage: lineage edges to record (an edge recorded twice is kept once).

    Example:
        >>> from runyard.entities import RunStatus
        >>> RunEnd("0" * 32, RunStatus.FINISHED, 0, tags={"k": "v"}).tags["k"]
        'v'
    """

    run_id: str
    status: RunStatus
    end_time: int
    params: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    artifacts: Sequence[ArtifactRef] = ()
    lineage: Sequence[LineageEdge] = ()


def check_new_run(run: NewRun) -> NewRun:
    """Validate a :class:`NewRun` without a store (names, keys, lengths, status, times).

    Returns it with its status as a :class:`RunStatus`.

    Raises:
        InvalidArgument: what :meth:`TrackingStore.create_runs` refuses.
    """
    if not isinstance(run, NewRun):
        raise InvalidArgument(f"create_runs takes NewRun records, not {type(run).__name__}")
    try:
        status = RunStatus(run.status)
    except ValueError as e:
        raise InvalidArgument(f"unknown run status {run.status!r}") from e
    if run.name is not None and len(run.name) > 250:
        raise InvalidArgument(f"run name is {len(run.name)} characters, more than 250")
    if status is not RunStatus.RUNNING and run.end_time is None:
        raise InvalidArgument(f"a run created {status.value} needs an end_time")
    _check_strings(run.params, run.tags)
    return run if status is run.status else replace(run, status=status)


def check_run_end(end: RunEnd) -> RunEnd:
    """Validate a :class:`RunEnd` without a store (status, end time, keys, lengths).

    Returns it with its status as a :class:`RunStatus`.

    Raises:
        InvalidArgument: what :meth:`TrackingStore.end_runs` refuses.
    """
    if not isinstance(end, RunEnd):
        raise InvalidArgument(f"end_runs takes RunEnd records, not {type(end).__name__}")
    try:
        status = RunStatus(end.status)
    except ValueError as e:
        raise InvalidArgument(f"unknown run status {end.status!r}") from e
    if isinstance(end.end_time, bool) or not isinstance(end.end_time, int):
        raise InvalidArgument(f"end_time must be milliseconds (an int), not {end.end_time!r}")
    _check_strings(end.params, end.tags)
    for ref in end.artifacts:
        if not isinstance(ref, ArtifactRef):
            raise InvalidArgument(f"artifacts must be ArtifactRef values, not {ref!r}")
    for edge in end.lineage:
        if not isinstance(edge, LineageEdge):
            raise InvalidArgument(f"lineage must be LineageEdge values, not {edge!r}")
    return end if status is end.status else replace(end, status=status)


def _check_strings(params: Mapping[str, str], tags: Mapping[str, str]) -> None:
    for what, values, limit in (
        ("param", params, MAX_PARAM_VALUE_LENGTH),
        ("tag", tags, MAX_TAG_VALUE_LENGTH),
    ):
        for key, value in values.items():
            if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_LENGTH:
                raise InvalidArgument(f"{what} key must have 1 to {MAX_KEY_LENGTH} characters")
            if not isinstance(value, str) or len(value) > limit:
                raise InvalidArgument(
                    f"{what} {key!r} must be a string of at most {limit} characters"
                )
