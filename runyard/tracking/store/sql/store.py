"""The SQL tracking store on SQLAlchemy Core: SQLite (default) and PostgreSQL.

Example:
    >>> from runyard.tracking.store.sql import SqlTrackingStore
    >>> store = SqlTrackingStore("sqlite:///:memory:")  # doctest: +SKIP
    >>> run = store.create_run(store.create_experiment("demo"))  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import sqlalchemy as sa

from runyard.config import resolve_artifact_uri
from runyard.entities import (
    ArtifactRef,
    Experiment,
    LifecycleStage,
    LineageEdge,
    Metric,
    MetricSeries,
    NodeKind,
    Page,
    Run,
    RunStatus,
)
from runyard.errors import AlreadyExists, InvalidArgument, NotFound
from runyard.tracking.filter import decode_page_token, encode_page_token, parse_filter
from runyard.tracking.filter import parse_order_by as _parse_order_by
from runyard.tracking.store.base import (
    SEARCH_MAX_RESULTS,
    NewRun,
    RunEnd,
    TrackingStore,
    ViewType,
    check_new_run,
    check_run_end,
)
from runyard.tracking.store.downsample import check_max_points
from runyard.tracking.store.sql import migrate
from runyard.tracking.store.sql.batch import apply_batch
from runyard.tracking.store.sql.cache_reads import read_cache_entries, read_experiment_by_name
from runyard.tracking.store.sql.end_runs import artifact_rows, end_runs_in, lineage_rows
from runyard.tracking.store.sql.engine import open_engine, release_engine, write_lock
from runyard.tracking.store.sql.errors import translate_errors
from runyard.tracking.store.sql.metrics import PointColumns, read_downsampled, read_series
from runyard.tracking.store.sql.new_runs import insert_run_ids, insert_runs
from runyard.tracking.store.sql.reader import load_experiments, load_runs, parse_experiment_id
from runyard.tracking.store.sql.registry import SqlRegistryMixin
from runyard.tracking.store.sql.schema import (
    artifact_refs,
    cache_entries,
    experiment_tags,
    experiments,
    lineage_edges,
    runs,
)
from runyard.tracking.store.sql.schema import tags as tags_table
from runyard.tracking.store.sql.search import SearchQuery, search_run_ids
from runyard.tracking.store.sql.statements import insert_ignore, upsert
from runyard.tracking.store.sql.tokens import SqlTokenMixin
from runyard.tracking.store.sql.validation import (
    check_key,
    check_metrics,
    check_params,
    check_tag_value,
    check_tags,
)

__all__ = ["SqlTrackingStore"]


_UPDATE_RUN = runs.update().where(runs.c.run_id == sa.bindparam("b_run_id"))
_CACHE_PAYLOAD = sa.select(cache_entries.c.payload).where(
    cache_entries.c.key == sa.bindparam("key")
)


_RUN_EXISTS = sa.select(runs.c.run_id).where(runs.c.run_id == sa.bindparam("run_id"))


def _require_run(conn: sa.Connection, run_id: str) -> None:
    """Raise NotFound unless the run exists (one primary-key lookup)."""
    if conn.execute(_RUN_EXISTS, {"run_id": run_id}).first() is None:
        raise NotFound(f"run {run_id!r} does not exist")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _check_max_results(max_results: int) -> None:
    if not isinstance(max_results, int) or not 1 <= max_results <= SEARCH_MAX_RESULTS:
        raise InvalidArgument(
            f"max_results must be an integer from 1 to {SEARCH_MAX_RESULTS}, got {max_results!r}"
        )


def _offset(page_token: str | None) -> dict[str, object]:
    if not page_token:
        return {}
    state = decode_page_token(page_token)
    offset = state.get("o", 0)
    if not isinstance(offset, int) or offset < 0 or state.get("p", "A") not in ("A", "B"):
        raise InvalidArgument(f"invalid page token {page_token[:40]!r}")
    return state


class SqlTrackingStore(SqlRegistryMixin, SqlTokenMixin, TrackingStore):
    """A :class:`TrackingStore` on SQLite or PostgreSQL.

    The schema is upgraded to the newest migration when the store opens. Instances are
    thread-safe (a pooled engine per URI is shared in the process); several processes may
    open the same database. :meth:`close` gives the engine back, so that a process opening
    and closing stores on many databases keeps a bounded number of connections open.

    Args:
        uri: ``sqlite:///path/to.db`` or ``postgresql://user@host:port/db``.

    Example:
        >>> store = SqlTrackingStore("sqlite:////tmp/runyard-demo.db")  # doctest: +SKIP
        >>> exp = store.create_experiment("mnist")  # doctest: +SKIP
        >>> run = store.create_run(exp, name="baseline")  # doctest: +SKIP
        >>> store.log_batch(run.run_id, [Metric("acc", 0.9, 1, 0)])  # doctest: +SKIP
    """

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._closed = False
        with translate_errors("open store"):
            self._engine = open_engine(uri)
            try:
                self._write_lock = write_lock(uri)
                migrate.upgrade(self._engine)
            except BaseException:
                release_engine(self._engine)
                raise

    # -- plumbing --------------------------------------------------------------------------

    @contextmanager
    def _tx(self, what: str, write: bool = False) -> Iterator[sa.Connection]:
        if not write:
            with translate_errors(what), self._engine.connect() as conn, conn.begin():
                yield conn
            return
        with translate_errors(what), self._write_lock, self._engine.connect() as conn:
            conn.execution_options(runyard_write=True)
            with conn.begin():
                yield conn

    @property
    def supports_cache(self) -> bool:
        """The SQL store keeps the pipeline cache."""
        return True

    def close(self) -> None:
        """Give the shared engine back; closing twice is harmless.

        The engine's connections close once no store uses it and a few other databases have
        been used since (:func:`~runyard.tracking.store.sql.engine.release_engine`). The store
        must not be used afterwards.
        """
        if not self._closed:
            self._closed = True
            release_engine(self._engine)

    # -- experiments ----------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Create an experiment and return its id (a string of digits)."""
        check_key(name, "experiment name")
        tag_values = check_tags(tags)
        try:
            with self._tx("create_experiment", write=True) as conn:
                new_id = conn.execute(
                    experiments.insert()
                    .values(
                        name=name,
                        artifact_location=artifact_location or "",
                        lifecycle_stage=LifecycleStage.ACTIVE.value,
                        creation_time=_now_ms(),
                    )
                    .returning(experiments.c.experiment_id)
                ).scalar_one()
                if not artifact_location:
                    location = f"{resolve_artifact_uri().rstrip('/')}/{new_id}"
                    conn.execute(
                        experiments.update()
                        .where(experiments.c.experiment_id == new_id)
                        .values(artifact_location=location)
                    )
                if tag_values:
                    conn.execute(
                        experiment_tags.insert(),
                        [
                            {"experiment_id": new_id, "key": k, "value": v}
                            for k, v in tag_values.items()
                        ],
                    )
        except AlreadyExists as e:
            raise AlreadyExists(f"an experiment named {name!r} exists already") from e
        return str(new_id)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """Return the experiment. Raises NotFound."""
        exp_id = parse_experiment_id(experiment_id)
        with self._tx("get_experiment") as conn:
            found = load_experiments(conn, experiments.c.experiment_id == exp_id)
        if not found:
            raise NotFound(f"experiment {experiment_id!r} does not exist")
        return found[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """Return the experiment with that name, or None.

        Every pipeline run looks its experiment up by name: one query straight to the
        driver (see :mod:`~runyard.tracking.store.sql.cache_reads`).
        """
        return read_experiment_by_name(self._engine, name)

    def search_experiments(
        self,
        view: ViewType = LifecycleStage.ACTIVE,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[Experiment]:
        """List experiments by creation order."""
        _check_max_results(max_results)
        offset = int(str(_offset(page_token).get("o", 0)))
        where = sa.true() if view is None else experiments.c.lifecycle_stage == view.value
        with self._tx("search_experiments") as conn:
            found = load_experiments(
                conn, where, experiments.c.experiment_id, offset, max_results + 1
            )
        token = encode_page_token({"o": offset + max_results}) if len(found) > max_results else None
        return Page(tuple(found[:max_results]), token)

    def _update_experiment(self, what: str, experiment_id: str, **values: str) -> None:
        exp_id = parse_experiment_id(experiment_id)
        with self._tx(what, write=True) as conn:
            done = conn.execute(
                experiments.update().where(experiments.c.experiment_id == exp_id).values(**values)
            )
            if done.rowcount == 0:
                raise NotFound(f"experiment {experiment_id!r} does not exist")

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename. Raises NotFound, AlreadyExists."""
        check_key(new_name, "experiment name")
        try:
            self._update_experiment("rename_experiment", experiment_id, name=new_name)
        except AlreadyExists as e:
            raise AlreadyExists(f"an experiment named {new_name!r} exists already") from e

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Set (or overwrite) an experiment tag. Raises NotFound, InvalidArgument."""
        check_key(key, "tag")
        check_tag_value(key, value)
        exp_id = parse_experiment_id(experiment_id)
        with self._tx("set_experiment_tag", write=True) as conn:
            exists = conn.execute(
                sa.select(experiments.c.experiment_id).where(experiments.c.experiment_id == exp_id)
            ).first()
            if exists is None:
                raise NotFound(f"experiment {experiment_id!r} does not exist")
            conn.execute(
                upsert(conn, experiment_tags, ["experiment_id", "key"], ["value"]).values(
                    experiment_id=exp_id, key=key, value=value
                )
            )

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete the experiment; its runs are hidden from active views."""
        self._update_experiment(
            "delete_experiment", experiment_id, lifecycle_stage=LifecycleStage.DELETED.value
        )

    def restore_experiment(self, experiment_id: str) -> None:
        """Undo :meth:`delete_experiment`."""
        self._update_experiment(
            "restore_experiment", experiment_id, lifecycle_stage=LifecycleStage.ACTIVE.value
        )

    # -- runs -----------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        name: str | None = None,
        start_time: int | None = None,
        tags: Mapping[str, str] | None = None,
        parent_run_id: str | None = None,
        artifact_uri: str | None = None,
    ) -> Run:
        """Create a RUNNING run."""
        record = NewRun(
            experiment_id,
            name=name,
            start_time=start_time,
            tags=check_tags(tags),
            parent_run_id=parent_run_id,
            artifact_uri=artifact_uri,
        )
        check_new_run(record)
        with self._tx("create_run", write=True) as conn:
            return insert_runs(conn, [record], _now_ms())[0]

    def create_runs(self, runs: Sequence[NewRun]) -> list[str]:
        """Create many complete runs in one transaction (see the base class); all or none.

        :func:`check_new_run` checks every param and tag key and value, which is all that
        :func:`check_params` and :func:`check_tags` would check again (a pipeline's cache
        hits create hundreds of runs at once).
        """
        checked = [check_new_run(r) for r in runs]
        if not checked:
            return []
        with self._tx("create_runs", write=True) as conn:
            return insert_run_ids(conn, checked, _now_ms())

    def end_runs(self, ends: Sequence[RunEnd]) -> None:
        """End many runs in one transaction (see the base class); all or nothing."""
        checked = [
            replace(e, params=check_params(e.params), tags=check_tags(e.tags))
            for e in map(check_run_end, ends)
        ]
        if checked:
            with self._tx("end_runs", write=True) as conn:
                end_runs_in(conn, checked)

    def get_run(self, run_id: str) -> Run:
        """Return the run with its params, tags and metric summaries. Raises NotFound."""
        with self._tx("get_run") as conn:
            return load_runs(conn, [run_id])[0]

    def update_run(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        name: str | None = None,
    ) -> Run:
        """Change status, end time or name; returns the updated run."""
        values: dict[str, object] = {}
        if status is not None:
            try:
                values["status"] = RunStatus(status).value
            except ValueError as e:
                raise InvalidArgument(f"unknown run status {status!r}") from e
        if end_time is not None:
            values["end_time"] = int(end_time)
        if name is not None:
            if not name or len(name) > 250:
                raise InvalidArgument("a run name must have 1 to 250 characters")
            values["name"] = name
        with self._tx("update_run", write=True) as conn:
            if values:
                done = conn.execute(_UPDATE_RUN, {"b_run_id": run_id, **values})
                if done.rowcount == 0:
                    raise NotFound(f"run {run_id!r} does not exist")
            return load_runs(conn, [run_id])[0]

    def _set_run_stage(self, what: str, run_id: str, stage: LifecycleStage) -> None:
        with self._tx(what, write=True) as conn:
            done = conn.execute(
                runs.update().where(runs.c.run_id == run_id).values(lifecycle_stage=stage.value)
            )
            if done.rowcount == 0:
                raise NotFound(f"run {run_id!r} does not exist")

    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run. Raises NotFound."""
        self._set_run_stage("delete_run", run_id, LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run`. Raises NotFound."""
        self._set_run_stage("restore_run", run_id, LifecycleStage.ACTIVE)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        batch_id: str | None = None,
    ) -> None:
        """Append metric points and set params and tags in one transaction."""
        points = {k: PointColumns.of(v) for k, v in check_metrics(metrics).items()}
        self._log_checked(run_id, points, params, tags, batch_id)

    def log_columns(
        self,
        run_id: str,
        columns: Mapping[str, PointColumns],
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        batch_id: str | None = None,
    ) -> None:
        """:meth:`log_batch` for points already in columns: ``{key: PointColumns}``.

        The server's ingest routes call this with what they parsed, so no point becomes a
        Python object on the way. Same transaction, idempotency and errors as ``log_batch``.

        Raises:
            InvalidArgument: a key is invalid, or a key's columns differ in length or dtype.
        """
        checked: dict[str, PointColumns] = {}
        for key, cols in columns.items():
            check_key(key, "metric")
            steps, values, stamps = (np.asarray(a) for a in cols)
            if not len(steps) == len(values) == len(stamps):
                raise InvalidArgument(f"metric {key!r}: step, value and timestamp lengths differ")
            if steps.dtype != np.int64 or stamps.dtype != np.int64 or values.dtype != np.float64:
                raise InvalidArgument(
                    f"metric {key!r}: steps and timestamps must be int64, values float64"
                )
            checked[key] = PointColumns(steps, values, stamps)
        self._log_checked(run_id, checked, params, tags, batch_id)

    def _log_checked(
        self,
        run_id: str,
        points: Mapping[str, PointColumns],
        params: Mapping[str, str] | None,
        tags: Mapping[str, str] | None,
        batch_id: str | None,
    ) -> None:
        param_values = check_params(params)
        tag_values = check_tags(tags)
        if batch_id is not None and (not isinstance(batch_id, str) or not 0 < len(batch_id) <= 128):
            raise InvalidArgument("batch_id must be a string of 1 to 128 characters")
        with self._tx("log_batch", write=True) as conn:
            apply_batch(conn, run_id, points, param_values, tag_values, batch_id)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag. Raises NotFound when the run or the tag does not exist."""
        with self._tx("delete_tag", write=True) as conn:
            _require_run(conn, run_id)
            done = conn.execute(
                tags_table.delete().where(tags_table.c.run_id == run_id, tags_table.c.key == key)
            )
            if done.rowcount == 0:
                raise NotFound(f"run {run_id!r} has no tag {key!r}")

    def get_metric_history(self, run_id: str, key: str) -> MetricSeries:
        """Return a whole series (empty when never logged). Raises NotFound for the run."""
        return self.get_metric_histories([run_id], key)[0]

    def get_metric_histories(self, run_ids: Sequence[str], key: str) -> list[MetricSeries]:
        """The series of ``key`` for many runs in one query, in the order of ``run_ids``."""
        if not run_ids:
            return []
        with self._tx("get_metric_histories") as conn:
            _require_runs(conn, run_ids)
            return read_series(conn, list(run_ids), key)

    def get_downsampled_histories(
        self, run_ids: Sequence[str], key: str, max_points: int
    ) -> list[MetricSeries]:
        """:meth:`get_metric_histories` reduced for a chart to at most ``max_points`` each.

        A longer series keeps, per bucket of consecutive points, its smallest and largest
        point and its first and last points; long series are answered from the chunks'
        stored sketches, without reading their points (see
        :func:`runyard.tracking.store.sql.metrics.read_downsampled`).

        Raises:
            NotFound: a run does not exist.
            InvalidArgument: ``max_points`` is below 2.
        """
        check_max_points(max_points)
        if not run_ids:
            return []
        with self._tx("get_downsampled_histories") as conn:
            _require_runs(conn, run_ids)
            return read_downsampled(conn, list(run_ids), key, max_points)

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        order_by: Sequence[str] = (),
        max_results: int = 1000,
        page_token: str | None = None,
        view: ViewType = LifecycleStage.ACTIVE,
    ) -> Page[Run]:
        """Search runs with the filter language of :mod:`runyard.tracking.filter`."""
        if isinstance(experiment_ids, str):
            raise InvalidArgument("experiment_ids must be a list of ids, not one string")
        if isinstance(order_by, str):
            order_by = [order_by]
        _check_max_results(max_results)
        expr = parse_filter(filter_string)
        order = tuple(_parse_order_by(clause) for clause in order_by)
        state = _offset(page_token)
        ids: list[int] = []
        for e in experiment_ids:
            try:
                ids.append(parse_experiment_id(e))
            except NotFound:  # not an id any experiment can have: matches nothing
                continue
        with self._tx("search_runs") as conn:
            stages = dict(
                conn.execute(
                    sa.select(experiments.c.experiment_id, experiments.c.lifecycle_stage).where(
                        experiments.c.experiment_id.in_(ids)
                    )
                ).all()
            )
            active = tuple(i for i in ids if stages.get(i) == LifecycleStage.ACTIVE.value)
            deleted = tuple(i for i in ids if stages.get(i) == LifecycleStage.DELETED.value)
            query = SearchQuery(
                experiment_ids=active if view is LifecycleStage.ACTIVE else active + deleted,
                deleted_experiment_ids=deleted,
                expr=expr,
                order=order,
                view=view,
                dialect=conn.dialect.name,
            )
            run_ids, next_state = search_run_ids(conn, query, state, max_results)
            found = load_runs(conn, run_ids, missing_ok=True)
        token = encode_page_token(next_state) if next_state is not None else None
        return Page(tuple(found), token)

    # -- artifacts and lineage ------------------------------------------------------------

    def log_artifact_refs(self, run_id: str, refs: Sequence[ArtifactRef]) -> None:
        """Record artifacts on a run (a path logged again is replaced). Raises NotFound."""
        rows = artifact_rows(run_id, refs)
        with self._tx("log_artifact_refs", write=True) as conn:
            _require_run(conn, run_id)
            if rows:
                conn.execute(
                    upsert(conn, artifact_refs, ["run_id", "path"], ["digest", "size", "uri"]),
                    rows,
                )

    def list_artifact_refs(self, run_id: str, prefix: str = "") -> list[ArtifactRef]:
        """Artifacts recorded on the run whose path starts with ``prefix``, sorted by path."""
        c = artifact_refs.c
        with self._tx("list_artifact_refs") as conn:
            _require_run(conn, run_id)
            rows = conn.execute(
                sa.select(c.path, c.digest, c.size, c.uri)
                .where(c.run_id == run_id)
                .order_by(c.path)
            ).all()
        return [
            ArtifactRef(r.path, r.digest, int(r.size), r.uri)
            for r in rows
            if r.path.startswith(prefix)
        ]

    def add_lineage(self, edges: Sequence[LineageEdge]) -> None:
        """Record lineage edges (an edge recorded twice is kept once)."""
        rows = lineage_rows(edges)
        if not rows:
            return
        with self._tx("add_lineage", write=True) as conn:
            conn.execute(insert_ignore(conn, lineage_edges), rows)

    def get_lineage(self, node_id: str, direction: str = "both") -> list[LineageEdge]:
        """Edges into (``upstream``), out of (``downstream``) or touching (``both``) a node."""
        c = lineage_edges.c
        clauses = {
            "upstream": c.target_id == node_id,
            "downstream": c.source_id == node_id,
            "both": sa.or_(c.target_id == node_id, c.source_id == node_id),
        }
        if direction not in clauses:
            raise InvalidArgument(
                f"direction must be 'upstream', 'downstream' or 'both', not {direction!r}"
            )
        with self._tx("get_lineage") as conn:
            rows = conn.execute(
                sa.select(lineage_edges)
                .where(clauses[direction])
                .order_by(c.source_id, c.target_id, c.relation)
            ).all()
        return [
            LineageEdge(
                NodeKind(r.source_kind),
                r.source_id,
                NodeKind(r.target_kind),
                r.target_id,
                r.relation,
            )
            for r in rows
        ]

    # -- pipeline cache -------------------------------------------------------------------

    def put_cache_entry(self, key: str, payload: str) -> None:
        """Store ``payload`` under ``key`` (a later put for the same key replaces it)."""
        if not key or len(key) > 256:
            raise InvalidArgument("a cache key must have 1 to 256 characters")
        with self._tx("put_cache_entry", write=True) as conn:
            conn.execute(
                upsert(conn, cache_entries, ["key"], ["payload", "created"]),
                {"key": key, "payload": payload, "created": _now_ms()},
            )

    def put_cache_entries(self, entries: Sequence[tuple[str, str]]) -> None:
        """Store several ``(key, payload)`` entries in one transaction; see the base class."""
        if not entries:
            return
        for key, _ in entries:
            if not key or len(key) > 256:
                raise InvalidArgument("a cache key must have 1 to 256 characters")
        now = _now_ms()
        rows = [{"key": k, "payload": p, "created": now} for k, p in dict(entries).items()]
        with self._tx("put_cache_entries", write=True) as conn:
            conn.execute(upsert(conn, cache_entries, ["key"], ["payload", "created"]), rows)

    def get_cache_entries(self, keys: Sequence[str]) -> dict[str, str]:
        """The payloads stored under ``keys``, by key, in one query; see the base class.

        A lookup is on the path of every pipeline cache hit, so it goes to the database
        driver directly (see :mod:`~runyard.tracking.store.sql.cache_reads`).
        """
        with translate_errors("get_cache_entries"):
            return read_cache_entries(self._engine, keys)

    def get_cache_entry(self, key: str) -> str | None:
        """The payload stored under ``key``, or None (one primary-key lookup)."""
        with self._tx("get_cache_entry") as conn:
            value = conn.execute(_CACHE_PAYLOAD, {"key": key}).scalar_one_or_none()
        return None if value is None else str(value)


def _require_runs(conn: sa.Connection, run_ids: Sequence[str]) -> None:
    """Raise NotFound naming the first of ``run_ids`` that does not exist."""
    found = set(
        conn.execute(sa.select(runs.c.run_id).where(runs.c.run_id.in_(set(run_ids)))).scalars()
    )
    for r in run_ids:
        if r not in found:
            raise NotFound(f"run {r!r} does not exist")
