"""Ending many runs in one transaction: params, tags, artifact refs, lineage, status.

Each table gets one ``executemany`` whatever the number of runs, through statements built
once. Used by :meth:`SqlTrackingStore.end_runs`; the row builders also serve the single-run
methods, so both refuse the same input with the same message.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from runyard.entities import ArtifactRef, LineageEdge, NodeKind
from runyard.errors import InvalidArgument, NotFound, ParamConflict
from runyard.tracking.store.base import RunEnd
from runyard.tracking.store.sql.schema import artifact_refs, lineage_edges, params, runs, tags
from runyard.tracking.store.sql.statements import insert_ignore, upsert

__all__ = ["artifact_rows", "end_runs_in", "lineage_rows"]

_EXISTING = sa.select(runs.c.run_id).where(runs.c.run_id.in_(sa.bindparam("ids", expanding=True)))
_PARAMS_OF = sa.select(params.c.run_id, params.c.key, params.c.value).where(
    params.c.run_id.in_(sa.bindparam("ids", expanding=True))
)
_END = (
    runs.update()
    .where(runs.c.run_id == sa.bindparam("b_run_id"))
    .values(status=sa.bindparam("status"), end_time=sa.bindparam("end_time"))
)


def artifact_rows(run_id: str, refs: Sequence[ArtifactRef]) -> list[dict[str, Any]]:
    """``artifact_refs`` rows for a run's refs.

    Raises:
        InvalidArgument: a path is empty or longer than 1000 characters.
    """
    rows = []
    for ref in refs:
        if not ref.path or len(ref.path) > 1000:
            raise InvalidArgument(f"artifact path must have 1 to 1000 characters: {ref.path!r}")
        rows.append(
            {
                "run_id": run_id,
                "path": ref.path,
                "digest": ref.digest,
                "size": ref.size,
                "uri": ref.uri,
            }
        )
    return rows


def lineage_rows(edges: Sequence[LineageEdge]) -> list[dict[str, str]]:
    """``lineage_edges`` rows.

    Raises:
        InvalidArgument: a node id is empty or longer than 500 characters, or a kind unknown.
    """
    rows = []
    for e in edges:
        try:
            source_kind, target_kind = NodeKind(e.source_kind).value, NodeKind(e.target_kind).value
        except ValueError as err:
            raise InvalidArgument(f"unknown lineage node kind in {e!r}") from err
        if not e.source_id or not e.target_id or len(e.source_id) > 500 or len(e.target_id) > 500:
            raise InvalidArgument("lineage node ids must have 1 to 500 characters")
        rows.append(
            {
                "source_kind": source_kind,
                "source_id": e.source_id,
                "target_kind": target_kind,
                "target_id": e.target_id,
                "relation": e.relation,
            }
        )
    return rows


def end_runs_in(conn: sa.Connection, ends: Sequence[RunEnd]) -> None:
    """Apply validated ends inside the caller's write transaction (it rolls back on error).

    Raises:
        NotFound: a run does not exist.
        ParamConflict: a param exists (or is set twice in ``ends``) with another value.
        InvalidArgument: an artifact path or lineage node id is refused.
    """
    if not ends:
        return
    param_rows = [
        {"run_id": e.run_id, "key": k, "value": v} for e in ends for k, v in e.params.items()
    ]
    tag_rows = [{"run_id": e.run_id, "key": k, "value": v} for e in ends for k, v in e.tags.items()]
    ref_rows = [row for e in ends for row in artifact_rows(e.run_id, e.artifacts)]
    edge_rows = [row for e in ends for row in lineage_rows(e.lineage)]
    ids = list(dict.fromkeys(e.run_id for e in ends))
    found = set(conn.execute(_EXISTING, {"ids": ids}).scalars())
    for run_id in ids:
        if run_id not in found:
            raise NotFound(f"run {run_id!r} does not exist")
    if param_rows:
        conn.execute(insert_ignore(conn, params), param_rows)
        stored = {(r, k): v for r, k, v in conn.execute(_PARAMS_OF, {"ids": ids})}
        for row in param_rows:
            value = stored[(row["run_id"], row["key"])]
            if value != row["value"]:
                raise ParamConflict(
                    f"param {row['key']!r} of run {row['run_id']} is already {value!r}; "
                    f"refusing to change it to {row['value']!r} (params are immutable; log a "
                    "new run or a tag)"
                )
    if tag_rows:
        conn.execute(upsert(conn, tags, ["run_id", "key"], ["value"]), tag_rows)
    if ref_rows:
        conn.execute(
            upsert(conn, artifact_refs, ["run_id", "path"], ["digest", "size", "uri"]), ref_rows
        )
    if edge_rows:
        conn.execute(insert_ignore(conn, lineage_edges), edge_rows)
    conn.execute(
        _END,
        [{"b_run_id": e.run_id, "status": e.status.value, "end_time": e.end_time} for e in ends],
    )
