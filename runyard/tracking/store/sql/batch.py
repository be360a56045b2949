"""Applying a validated ``log_batch`` inside one write transaction."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from runyard.errors import NotFound, ParamConflict
from runyard.tracking.store.sql.metrics import PointColumns, append_columns
from runyard.tracking.store.sql.schema import applied_batches, params, runs, tags
from runyard.tracking.store.sql.statements import insert_ignore, upsert

__all__ = ["apply_batch"]

_RUN_EXPERIMENT = sa.select(runs.c.experiment_id).where(runs.c.run_id == sa.bindparam("run_id"))
_STORED_PARAMS = sa.select(params.c.key, params.c.value).where(
    params.c.run_id == sa.bindparam("run_id"),
    params.c.key.in_(sa.bindparam("keys", expanding=True)),
)


def apply_batch(
    conn: sa.Connection,
    run_id: str,
    points: Mapping[str, PointColumns],
    param_values: dict[str, str],
    tag_values: dict[str, str],
    batch_id: str | None,
) -> bool:
    """Write one batch; return False when ``batch_id`` was applied before (nothing written).

    Raises:
        NotFound: the run does not exist.
        ParamConflict: a param exists with another value (the caller rolls back).
    """
    experiment_id = conn.execute(_RUN_EXPERIMENT, {"run_id": run_id}).scalar_one_or_none()
    if experiment_id is None:
        raise NotFound(f"run {run_id!r} does not exist")
    if batch_id is not None:
        inserted = conn.execute(
            insert_ignore(conn, applied_batches).returning(applied_batches.c.batch_id),
            {"run_id": run_id, "batch_id": batch_id},
        ).first()
        if inserted is None:
            return False
    if param_values:
        conn.execute(
            insert_ignore(conn, params),
            [{"run_id": run_id, "key": k, "value": v} for k, v in param_values.items()],
        )
        stored = conn.execute(_STORED_PARAMS, {"run_id": run_id, "keys": list(param_values)}).all()
        for key, value in stored:
            if value != param_values[key]:
                raise ParamConflict(
                    f"param {key!r} of run {run_id} is already {value!r}; refusing to change "
                    f"it to {param_values[key]!r} (params are immutable; log a new run or a tag)"
                )
    if tag_values:
        conn.execute(
            upsert(conn, tags, ["run_id", "key"], ["value"]),
            [{"run_id": run_id, "key": k, "value": v} for k, v in tag_values.items()],
        )
    append_columns(conn, run_id, int(experiment_id), points)
    return True
