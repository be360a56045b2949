"""Reading experiments and runs (with params, tags and summaries) into frozen entities."""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from runyard.entities import Experiment, LifecycleStage, MetricSummary, Run, RunStatus
from runyard.errors import NotFound
from runyard.tracking.store.sql.metrics import summary_from_row
from runyard.tracking.store.sql.schema import (
    experiment_tags,
    experiments,
    metric_summaries,
    params,
    runs,
    tags,
)

__all__ = ["load_experiments", "load_runs", "parse_experiment_id"]


def parse_experiment_id(experiment_id: str) -> int:
    """The integer id behind an experiment id string. Raises NotFound for a non-integer."""
    try:
        value = int(str(experiment_id))
    except ValueError as e:
        raise NotFound(f"experiment {experiment_id!r} does not exist") from e
    if not -(2**63) <= value < 2**63:  # no such id can be stored
        raise NotFound(f"experiment {experiment_id!r} does not exist")
    return value


def load_experiments(
    conn: sa.Connection, where: Any, order: Any = None, offset: int = 0, limit: int | None = None
) -> list[Experiment]:
    """Experiments matching ``where`` with their tags."""
    query = sa.select(experiments).where(where)
    if order is not None:
        query = query.order_by(order).offset(offset).limit(limit)
    rows = conn.execute(query).all()
    if not rows:
        return []
    ids = [r.experiment_id for r in rows]
    tag_map: dict[int, dict[str, str]] = {i: {} for i in ids}
    for t in conn.execute(
        sa.select(experiment_tags).where(experiment_tags.c.experiment_id.in_(ids))
    ):
        tag_map[t.experiment_id][t.key] = t.value
    return [
        experiment_of(
            r.experiment_id,
            r.name,
            r.artifact_location,
            r.lifecycle_stage,
            r.creation_time,
            tag_map[r.experiment_id],
        )
        for r in rows
    ]


def experiment_of(
    experiment_id: Any,
    name: Any,
    artifact_location: Any,
    lifecycle_stage: Any,
    creation_time: Any,
    tags: dict[str, str],
) -> Experiment:
    """An :class:`Experiment` from the columns of its ``experiments`` row and its tags."""
    return Experiment(
        experiment_id=str(experiment_id),
        name=str(name),
        artifact_location=str(artifact_location),
        lifecycle_stage=LifecycleStage(lifecycle_stage),
        creation_time=int(creation_time),
        tags=MappingProxyType(tags),
    )


def _in(conn: sa.Connection, column: Any, ids: Sequence[str]) -> Any:
    """``column IN ids``; on PostgreSQL ``= ANY(:array)``, one statement for any count."""
    if len(ids) == 1:
        return column == ids[0]
    if conn.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(ids), type_=ARRAY(sa.String)))
    return column.in_(list(ids))


def load_runs(conn: sa.Connection, run_ids: Sequence[str], missing_ok: bool = False) -> list[Run]:
    """The runs with these ids, in that order.

    Raises:
        NotFound: a run does not exist (unless ``missing_ok``, which drops it).
    """
    if not run_ids:
        return []
    if len(run_ids) == 1:  # the common case, with statements built once
        one = {"run_id": run_ids[0]}
        rows = {r.run_id: r for r in conn.execute(_ONE_RUN, one)}
        if run_ids[0] not in rows:
            if missing_ok:
                return []
            raise NotFound(f"run {run_ids[0]!r} does not exist")
        return _build(rows, list(run_ids), conn.execute(_ONE_KV, one), conn.execute(_ONE_SUM, one))
    rows = {r.run_id: r for r in conn.execute(_RUNS.where(_in(conn, runs.c.run_id, run_ids)))}
    if not missing_ok:
        for run_id in run_ids:
            if run_id not in rows:
                raise NotFound(f"run {run_id!r} does not exist")
    found = [r for r in run_ids if r in rows]
    if not found:
        return []
    kv = conn.execute(_kv(lambda t: _in(conn, t.c.run_id, found)))
    summaries = conn.execute(
        sa.select(metric_summaries).where(_in(conn, metric_summaries.c.run_id, found))
    )
    return _build(rows, found, kv, summaries)


def _kv(where: Any) -> Any:
    """Params (``t`` = 0) and tags (``t`` = 1) of the runs ``where(table)`` selects."""
    return sa.union_all(
        *(
            sa.select(sa.literal(i).label("t"), t.c.run_id, t.c.key, t.c.value).where(where(t))
            for i, t in enumerate((params, tags))
        )
    )


_RUNS = sa.select(runs, experiments.c.lifecycle_stage.label("experiment_stage")).join(
    experiments, experiments.c.experiment_id == runs.c.experiment_id
)
_ONE_RUN = _RUNS.where(runs.c.run_id == sa.bindparam("run_id"))
_ONE_KV = _kv(lambda t: t.c.run_id == sa.bindparam("run_id"))
_ONE_SUM = sa.select(metric_summaries).where(metric_summaries.c.run_id == sa.bindparam("run_id"))


def _build(rows: dict[str, Any], found: list[str], kv: Any, summaries: Any) -> list[Run]:
    """Runs from their rows, their (kind, run, key, value) rows and their summary rows."""
    param_map: dict[str, dict[str, str]] = {r: {} for r in found}
    tag_map: dict[str, dict[str, str]] = {r: {} for r in found}
    summary_map: dict[str, dict[str, MetricSummary]] = {r: {} for r in found}
    for which, run_id, key, value in kv:
        (tag_map if which else param_map)[run_id][key] = value
    for s in summaries:
        summary_map[s.run_id][s.key] = summary_from_row(s)
    out = []
    for run_id in found:
        r = rows[run_id]
        deleted = LifecycleStage.DELETED.value in (r.lifecycle_stage, r.experiment_stage)
        out.append(
            Run(
                run_id=r.run_id,
                experiment_id=str(r.experiment_id),
                name=r.name,
                status=RunStatus(r.status),
                start_time=int(r.start_time),
                end_time=None if r.end_time is None else int(r.end_time),
                parent_run_id=r.parent_run_id,
                artifact_uri=r.artifact_uri,
                lifecycle_stage=LifecycleStage.DELETED if deleted else LifecycleStage.ACTIVE,
                params=MappingProxyType(param_map[run_id]),
                tags=MappingProxyType(tag_map[run_id]),
                metrics=MappingProxyType(summary_map[run_id]),
            )
        )
    return out
