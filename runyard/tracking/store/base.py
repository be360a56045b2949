"""The tracking store contract.

A :class:`TrackingStore` persists experiments, runs, params, tags, metric series and their
summaries, artifact references and lineage edges. Every backend (SQL on SQLite or
PostgreSQL, the REST client of a runyard server) implements this class and passes the
conformance suite in :mod:`runyard.testing.tracking_store`.

Contract, for every implementation:

* **Thread-safety.** One instance may be shared by any number of threads; several processes
  may open the same database at once and see each other's committed writes.
* **Immutable results.** Every returned value is a frozen entity (or a tuple/page of them)
  and never changes after it is returned.
* **Atomic writes.** Each method either applies all its effects or none; a refused write
  (any :class:`~runyard.errors.InvalidArgument`) leaves the store unchanged.
* **Idempotent batches.** :meth:`log_batch` with a ``batch_id`` already applied to that run is
  a no-op, so a client that retries after a timeout never duplicates metric points.
* **Errors.** Only the :mod:`runyard.errors` tree escapes: :class:`NotFound` for unknown ids,
  :class:`AlreadyExists` for a taken experiment name, :class:`InvalidArgument` (and its
  :class:`InvalidFilter`, :class:`ParamConflict`) for refused input, :class:`StoreError` /
  :class:`StoreUnavailable` for backend failures.
* **Metrics.** Values are any float (NaN, ±inf stored faithfully); steps are integers; a
  series is returned in logging order. The summary's ``latest`` is the point with the
  largest (step, timestamp); ``min``/``max`` ignore NaN.
* **Limits.** Keys at most :data:`MAX_KEY_LENGTH` characters, param values at most
  :data:`MAX_PARAM_VALUE_LENGTH`, tag values at most :data:`MAX_TAG_VALUE_LENGTH`.

Weaker backends advertise missing capabilities through the ``supports_*`` properties; the
conformance suite skips through those, never through ``isinstance``.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence

from runyard._internal.limits import (
    MAX_KEY_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
)
from runyard.entities import (
    ArtifactRef,
    Experiment,
    LifecycleStage,
    LineageEdge,
    Metric,
    MetricSeries,
    Page,
    Run,
    RunStatus,
)
from runyard.entities.registry import ApiToken, ModelVersion, RegisteredModel
from runyard.errors import InvalidArgument
from runyard.tracking.store.run_records import NewRun, RunEnd, check_new_run, check_run_end

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_PARAM_VALUE_LENGTH",
    "MAX_TAG_VALUE_LENGTH",
    "SEARCH_MAX_RESULTS",
    "NewRun",
    "RunEnd",
    "TrackingStore",
    "ViewType",
    "check_new_run",
    "check_run_end",
]

SEARCH_MAX_RESULTS = 50_000

ViewType = LifecycleStage | None
"""Which lifecycle stage a search returns: ACTIVE, DELETED, or None for all."""


class TrackingStore(abc.ABC):
    """Persistence for experiments, runs, metrics, params, tags, artifacts and lineage."""

    # -- capabilities -------------------------------------------------------------------

    @property
    def supports_concurrent_processes(self) -> bool:
        """True when several processes may write to the same store at once."""
        return True

    # -- experiments ----------------------------------------------------------------------

    @abc.abstractmethod
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Create an experiment and return its id.

        Raises:
            AlreadyExists: an experiment (active or deleted) has that name.
            InvalidArgument: the name is empty or too long.
        """

    @abc.abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment:
        """Return the experiment. Raises NotFound."""

    @abc.abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """Return the experiment with that name, or None."""

    @abc.abstractmethod
    def search_experiments(
        self,
        view: ViewType = LifecycleStage.ACTIVE,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[Experiment]:
        """List experiments by creation order. Raises InvalidArgument on a bad page token."""

    @abc.abstractmethod
    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename. Raises NotFound, AlreadyExists."""

    @abc.abstractmethod
    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Set (or overwrite) an experiment tag. Raises NotFound, InvalidArgument."""

    @abc.abstractmethod
    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete the experiment and hide its runs. Raises NotFound."""

    @abc.abstractmethod
    def restore_experiment(self, experiment_id: str) -> None:
        """Undo :meth:`delete_experiment`. Raises NotFound."""

    # -- runs -----------------------------------------------------------------------------

    @abc.abstractmethod
    def create_run(
        self,
        experiment_id: str,
        name: str | None = None,
        start_time: int | None = None,
        tags: Mapping[str, str] | None = None,
        parent_run_id: str | None = None,
        artifact_uri: str | None = None,
    ) -> Run:
        """Create a RUNNING run.

        ``artifact_uri`` defaults to ``<experiment artifact_location>/<run_id>``.

        Raises:
            NotFound: the experiment or the parent run does not exist.
            InvalidArgument: the experiment is deleted, or a tag is refused.
        """

    def create_runs(self, runs: Sequence[NewRun]) -> list[str]:
        """Create many runs, each with its params, tags, status and end time; return their ids.

        This is the bulk form of :meth:`create_run` followed by :meth:`log_batch` (params
        and tags) and :meth:`update_run` (status and end time), for callers that record many
        runs at once (the pipeline engine records its cache hits this way). Ids come back in
        the order of ``runs``. Every record is validated before anything is written, so
        refused input (:class:`InvalidArgument`, :class:`NotFound`) writes nothing.

        The default implementation makes those single-run calls in turn, so a backend
        failure part-way (:class:`StoreError`) may leave the earlier runs written; backends
        override it to write everything in one transaction, all or nothing.

        Raises:
            NotFound: an experiment or a parent run does not exist.
            InvalidArgument: an experiment is deleted, a name, param or tag is refused, or a
                terminal status comes without an end time.

        Example:
            >>> new = [NewRun(exp_id, "a"), NewRun(exp_id, "b")]  # doctest: +SKIP
            >>> ids = store.create_runs(new)  # doctest: +SKIP
        """
        checked = [check_new_run(r) for r in runs]
        for experiment_id in dict.fromkeys(r.experiment_id for r in checked):
            if self.get_experiment(experiment_id).lifecycle_stage is not LifecycleStage.ACTIVE:
                raise InvalidArgument(f"experiment {experiment_id!r} is deleted; restore it first")
        for parent in dict.fromkeys(r.parent_run_id for r in checked if r.parent_run_id):
            self.get_run(parent)
        ids = []
        for r in checked:
            run = self.create_run(
                r.experiment_id,
                name=r.name,
                start_time=r.start_time,
                tags=r.tags,
                parent_run_id=r.parent_run_id,
                artifact_uri=r.artifact_uri,
            )
            if r.params:
                self.log_batch(run.run_id, params=r.params)
            if r.status is not RunStatus.RUNNING or r.end_time is not None:
                self.update_run(run.run_id, status=r.status, end_time=r.end_time)
            ids.append(run.run_id)
        return ids

    def end_runs(self, ends: Sequence[RunEnd]) -> None:
        """End many runs, each with its last params, tags, artifact refs and lineage.

        The bulk form of :meth:`log_batch` (params and tags), :meth:`log_artifact_refs`,
        :meth:`add_lineage` and :meth:`update_run` (status and end time) for each run, for
        callers that settle many runs at once (the pipeline engine ends its step runs this
        way). Every record is validated and every run looked up before anything is written,
        so refused input and unknown runs write nothing.

        The default implementation makes those single-run calls in turn, so a failure
        part-way (:class:`StoreError`, or a :class:`ParamConflict` found late) may leave the
        earlier runs ended; backends override it to write everything in one transaction,
        all or nothing.

        Raises:
            NotFound: a run does not exist.
            ParamConflict: a param exists with a different value.
            InvalidArgument: a status, key or value is refused.

        Example:
            >>> store.end_runs([RunEnd(run_id, RunStatus.FINISHED, end_ms)])  # doctest: +SKIP
        """
        checked = [check_run_end(e) for e in ends]
        for run_id in dict.fromkeys(e.run_id for e in checked):
            self.get_run(run_id)
        for e in checked:
            if e.params or e.tags:
                self.log_batch(e.run_id, params=e.params, tags=e.tags)
            if e.artifacts:
                self.log_artifact_refs(e.run_id, e.artifacts)
            if e.lineage:
                self.add_lineage(e.lineage)
            self.update_run(e.run_id, status=e.status, end_time=e.end_time)

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run:
        """Return the run with its params, tags and metric summaries. Raises NotFound."""

    @abc.abstractmethod
    def update_run(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        name: str | None = None,
    ) -> Run:
        """Change status, end time or name; returns the updated run. Raises NotFound."""

    @abc.abstractmethod
    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run. Raises NotFound."""

    @abc.abstractmethod
    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run`. Raises NotFound."""

    @abc.abstractmethod
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        batch_id: str | None = None,
    ) -> None:
        """Append metric points and set params and tags, atomically.

        Args:
            run_id: the run.
            metrics: points to append, in order.
            params: params to set; setting an existing param to the same value is a no-op.
            tags: tags to set or overwrite.
            batch_id: when given and already applied to this run, the call does nothing.

        Raises:
            NotFound: unknown run.
            ParamConflict: a param exists with a different value.
            InvalidArgument: a key or value is too long, a step is not an integer.
        """

    @abc.abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag. Raises NotFound when the run or the tag does not exist."""

    @abc.abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> MetricSeries:
        """Return a whole series (empty when never logged). Raises NotFound for the run."""

    def get_metric_histories(self, run_ids: Sequence[str], key: str) -> list[MetricSeries]:
        """Return the series of ``key`` for many runs, in the order of ``run_ids``.

        Raises NotFound for an unknown run. Backends override this to read in one query.
        """
        return [self.get_metric_history(r, key) for r in run_ids]

    def get_downsampled_histories(
        self, run_ids: Sequence[str], key: str, max_points: int
    ) -> list[MetricSeries]:
        """:meth:`get_metric_histories` reduced for a chart to at most ``max_points`` each.

        A longer series keeps, per bucket of consecutive points, its smallest and largest
        point and its first and last points (:func:`~runyard.tracking.store.downsample.
        downsample`). This default reads the whole series; the SQL store answers long series
        from per-chunk sketches instead.

        Raises:
            NotFound: a run does not exist.
            InvalidArgument: ``max_points`` is below 2.
        """
        from runyard.tracking.store.downsample import check_max_points, downsample

        check_max_points(max_points)
        return [downsample(s, max_points) for s in self.get_metric_histories(run_ids, key)]

    @abc.abstractmethod
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        order_by: Sequence[str] = (),
        max_results: int = 1000,
        page_token: str | None = None,
        view: ViewType = LifecycleStage.ACTIVE,
    ) -> Page[Run]:
        """Search runs with the filter language of :mod:`runyard.tracking.filter`.

        Args:
            experiment_ids: the experiments to search in.
            filter_string: e.g. ``metrics.acc > 0.9 and params.lr = '0.1'``; empty for all.
            order_by: e.g. ``["metrics.acc desc", "start_time"]``; ties break on start
                time (newest first) then run id.
            max_results: page size, at most :data:`SEARCH_MAX_RESULTS`.
            page_token: from the previous page.
            view: which lifecycle stage to return (None for all).

        Raises:
            InvalidFilter: the filter or an order_by clause does not parse.
            InvalidArgument: a bad page token or max_results.
        """

    # -- artifacts and lineage ------------------------------------------------------------

    @abc.abstractmethod
    def log_artifact_refs(self, run_id: str, refs: Sequence[ArtifactRef]) -> None:
        """Record artifacts on a run (a path logged again is replaced). Raises NotFound."""

    @abc.abstractmethod
    def list_artifact_refs(self, run_id: str, prefix: str = "") -> list[ArtifactRef]:
        """Artifacts recorded on the run whose path starts with ``prefix``, sorted by path."""

    @abc.abstractmethod
    def add_lineage(self, edges: Sequence[LineageEdge]) -> None:
        """Record lineage edges (an edge recorded twice is kept once)."""

    @abc.abstractmethod
    def get_lineage(self, node_id: str, direction: str = "both") -> list[LineageEdge]:
        """Edges into (``upstream``), out of (``downstream``) or touching (``both``) a node."""

    # -- pipeline cache (optional) --------------------------------------------------------

    @property
    def supports_cache(self) -> bool:
        """True when :meth:`put_cache_entry` / :meth:`get_cache_entry` are implemented."""
        return False

    def put_cache_entry(self, key: str, payload: str) -> None:
        """Store ``payload`` (the output refs of a cached step) under ``key``, replacing any.

        Raises:
            NotImplementedError: the backend has no cache (``supports_cache`` is False).
            InvalidArgument: the key is empty or longer than 256 characters.
        """
        raise NotImplementedError(f"{type(self).__name__} has no pipeline cache")

    def put_cache_entries(self, entries: Sequence[tuple[str, str]]) -> None:
        """Store several ``(key, payload)`` entries, as :meth:`put_cache_entry` does each.

        The default makes one :meth:`put_cache_entry` call per entry; backends override it
        to write them all in one transaction.

        Raises:
            NotImplementedError: the backend has no cache (``supports_cache`` is False).
            InvalidArgument: a key is empty or longer than 256 characters (nothing is
                written).
        """
        for key, _ in entries:
            if not key or len(key) > 256:
                raise InvalidArgument("a cache key must have 1 to 256 characters")
        for key, payload in entries:
            self.put_cache_entry(key, payload)

    def get_cache_entries(self, keys: Sequence[str]) -> dict[str, str]:
        """The payloads stored under ``keys``, by key; keys with no entry are left out.

        The default makes one :meth:`get_cache_entry` call per key; backends override it
        to answer with one query.

        Raises:
            NotImplementedError: the backend has no cache (``supports_cache`` is False).
        """
        found = {}
        for key in dict.fromkeys(keys):
            payload = self.get_cache_entry(key)
            if payload is not None:
                found[key] = payload
        return found

    def get_cache_entry(self, key: str) -> str | None:
        """The payload stored under ``key``, or None.

        Raises:
            NotImplementedError: the backend has no cache (``supports_cache`` is False).
        """
        raise NotImplementedError(f"{type(self).__name__} has no pipeline cache")

    # -- API tokens (optional) -----------------------------------------------------------

    @property
    def supports_tokens(self) -> bool:
        """True when the token methods below are implemented (a server can enforce auth)."""
        return False

    def create_token(
        self, token_id: str, name: str, scope: str, token_hash: str, expires: int | None = None
    ) -> ApiToken:
        """Store a token by its hash. Raises AlreadyExists, InvalidArgument, NotImplementedError."""
        raise NotImplementedError(f"{type(self).__name__} keeps no API tokens")

    def find_token(self, token_hash: str) -> ApiToken | None:
        """The token with that hash (revoked ones included), or None."""
        raise NotImplementedError(f"{type(self).__name__} keeps no API tokens")

    def list_tokens(self) -> list[ApiToken]:
        """Every token, oldest first."""
        raise NotImplementedError(f"{type(self).__name__} keeps no API tokens")

    def revoke_token(self, token_id: str) -> None:
        """Revoke a token. Raises NotFound."""
        raise NotImplementedError(f"{type(self).__name__} keeps no API tokens")

    # -- model registry (optional) --------------------------------------------------------

    @property
    def supports_registry(self) -> bool:
        """True when the registry methods below are implemented."""
        return False

    def _no_registry(self) -> NotImplementedError:
        return NotImplementedError(f"{type(self).__name__} has no model registry")

    def create_registered_model(
        self, name: str, description: str = "", tags: Mapping[str, str] | None = None
    ) -> RegisteredModel:
        """Create a registered model. Raises AlreadyExists, InvalidArgument."""
        raise self._no_registry()

    def get_registered_model(self, name: str) -> RegisteredModel:
        """A registered model with its tags and aliases. Raises NotFound."""
        raise self._no_registry()

    def search_registered_models(
        self, name_like: str | None = None, max_results: int = 100, page_token: str | None = None
    ) -> Page[RegisteredModel]:
        """Registered models by name (``name_like`` is a SQL LIKE pattern)."""
        raise self._no_registry()

    def update_registered_model(
        self, name: str, new_name: str | None = None, description: str | None = None
    ) -> RegisteredModel:
        """Rename and/or re-describe a model (versions and aliases follow). Raises NotFound."""
        raise self._no_registry()

    def delete_registered_model(self, name: str) -> None:
        """Delete a model with its versions, tags and aliases. Raises NotFound."""
        raise self._no_registry()

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        """Set a tag on a registered model. Raises NotFound, InvalidArgument."""
        raise self._no_registry()

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove a tag from a registered model. Raises NotFound."""
        raise self._no_registry()

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
    ) -> ModelVersion:
        """Add the next version of a model. Raises NotFound (model or run)."""
        raise self._no_registry()

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        """One version. Raises NotFound."""
        raise self._no_registry()

    def search_model_versions(
        self,
        name: str | None = None,
        run_id: str | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        """Versions, newest first, optionally of one model and/or from one run."""
        raise self._no_registry()

    def update_model_version(
        self, name: str, version: int, description: str | None = None, stage: str | None = None
    ) -> ModelVersion:
        """Change a version's description or legacy stage. Raises NotFound."""
        raise self._no_registry()

    def delete_model_version(self, name: str, version: int) -> None:
        """Delete a version (its aliases go with it). Raises NotFound."""
        raise self._no_registry()

    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        """Set a tag on a version. Raises NotFound, InvalidArgument."""
        raise self._no_registry()

    def delete_model_version_tag(self, name: str, version: int, key: str) -> None:
        """Remove a tag from a version. Raises NotFound."""
        raise self._no_registry()

    def set_model_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``alias`` at a version (moving it if set). Raises NotFound, InvalidArgument."""
        raise self._no_registry()

    def delete_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias. Raises NotFound."""
        raise self._no_registry()

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at. Raises NotFound."""
        raise self._no_registry()

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release connections. The store must not be used afterwards."""
