"""The REST tracking store: a :class:`TrackingStore` that talks to a runyard server.

``get_store("http://host:5000")`` (or ``RUNYARD_TRACKING_URI=http://host:5000``) returns a
:class:`RestTrackingStore`; it passes the same conformance suite as the SQL store. Requests
are retried with exponential backoff and jitter on connection errors and 5xx answers for up
to ``max_retry_s`` seconds. Every :meth:`log_batch` carries a batch id (one is made when the
caller gives none) that the server applies at most once, so a retry after a lost answer
never duplicates points. A bearer token comes from the ``token`` argument or
``$RUNYARD_TRACKING_TOKEN``. The model registry and token methods live in
:mod:`runyard.tracking.store.rest_registry`.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from array import array
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import httpx

from runyard._internal.limits import check_metric_value, check_step
from runyard.entities import (
    ArtifactRef,
    Experiment,
    LifecycleStage,
    LineageEdge,
    Metric,
    MetricSeries,
    MetricSummary,
    NodeKind,
    Page,
    Run,
    RunStatus,
)
from runyard.errors import (
    AlreadyExists,
    InvalidArgument,
    InvalidFilter,
    MissingDependency,
    NotFound,
    ParamConflict,
    RunyardError,
    StoreError,
    StoreUnavailable,
    UnsafePath,
)
from runyard.tracking.store.base import TrackingStore, ViewType
from runyard.tracking.store.rest_registry import RestRegistryMixin
from runyard.wire import ExperimentOut, ExperimentPage, RunOut, RunPage, SeriesOut
from runyard.wire.arrow_batch import ARROW_STREAM, arrow_body

__all__ = ["TOKEN_ENV", "RestTrackingStore"]

TOKEN_ENV = "RUNYARD_TRACKING_TOKEN"

_ERRORS: dict[str, type[RunyardError]] = {
    "NOT_FOUND": NotFound,
    "ALREADY_EXISTS": AlreadyExists,
    "INVALID_ARGUMENT": InvalidArgument,
    "PARAM_CONFLICT": ParamConflict,
    "UNSAFE_PATH": UnsafePath,
    "STORE_UNAVAILABLE": StoreUnavailable,
    "PAYLOAD_TOO_LARGE": InvalidArgument,
    "METHOD_NOT_ALLOWED": InvalidArgument,
}
_BY_STATUS: dict[int, type[RunyardError]] = {
    400: InvalidArgument,
    404: NotFound,
    409: AlreadyExists,
    413: InvalidArgument,
    422: InvalidArgument,
    503: StoreUnavailable,
}
_VIEWS = {LifecycleStage.ACTIVE: "active", LifecycleStage.DELETED: "deleted", None: "all"}


def _error_from(response: httpx.Response, what: str) -> RunyardError:
    try:
        body = response.json()
        err = body["error"]
        code, message, details = err["code"], str(err["message"]), err.get("details") or {}
    except (ValueError, KeyError, TypeError):
        code, message, details = "", response.text[:500] or response.reason_phrase, {}
    if code == "INVALID_FILTER":
        return InvalidFilter(
            str(details.get("reason", message)),
            str(details.get("text", "")),
            int(details.get("position", 0)),
        )
    if code == "MISSING_DEPENDENCY":
        return StoreError(f"{what}: the server is missing a dependency: {message}")
    if code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return StoreError(f"{what}: the server refused the token ({code}): {message}")
    kind = _ERRORS.get(code) or _BY_STATUS.get(response.status_code) or StoreError
    return kind(message)


def _run(out: RunOut) -> Run:
    return Run(
        run_id=out.run_id,
        experiment_id=out.experiment_id,
        name=out.name,
        status=RunStatus(out.status),
        start_time=out.start_time,
        end_time=out.end_time,
        parent_run_id=out.parent_run_id,
        artifact_uri=out.artifact_uri,
        lifecycle_stage=LifecycleStage(out.lifecycle_stage),
        params=MappingProxyType(dict(out.params)),
        tags=MappingProxyType(dict(out.tags)),
        metrics=MappingProxyType(
            {
                k: MetricSummary(
                    k, m.latest, m.latest_step, m.latest_timestamp, m.min, m.max, m.count
                )
                for k, m in out.metrics.items()
            }
        ),
    )


def _experiment(out: ExperimentOut) -> Experiment:
    return Experiment(
        out.experiment_id,
        out.name,
        out.artifact_location,
        LifecycleStage(out.lifecycle_stage),
        out.creation_time,
        MappingProxyType(dict(out.tags)),
    )


def _series(out: SeriesOut) -> MetricSeries:
    return MetricSeries(
        out.run_id, out.key, array("q", out.step), array("d", out.value), array("q", out.timestamp)
    )


class RestTrackingStore(RestRegistryMixin, TrackingStore):
    """A :class:`TrackingStore` backed by a runyard server's ``/api/v1`` REST API.

    Args:
        uri: the server, ``http(s)://host:port`` (a path prefix is kept).
        token: a bearer token; else ``$RUNYARD_TRACKING_TOKEN``; else none.
        timeout_s: per-request timeout.
        max_retry_s: how long to keep retrying connection errors and 5xx answers.
        client: an ``httpx.Client`` to use instead of a new one (tests, custom TLS).

    Example:
        >>> store = RestTrackingStore("http://127.0.0.1:5000")  # doctest: +SKIP
        >>> run = store.create_run("0", name="remote")  # doctest: +SKIP
    """

    def __init__(
        self,
        uri: str,
        *,
        token: str | None = None,
        timeout_s: float = 60.0,
        max_retry_s: float = 60.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.uri = uri.rstrip("/")
        token = token or os.environ.get(TOKEN_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = client or httpx.Client(
            base_url=self.uri,
            timeout=timeout_s,
            headers=headers,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )
        if client is not None and headers:
            self._client.headers.update(headers)
        self._max_retry_s = max_retry_s
        self._capabilities: dict[str, bool] | None = None

    def __repr__(self) -> str:
        return f"RestTrackingStore({self.uri!r})"

    # -- plumbing --------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        retry_all: bool = True,
        content: bytes | None = None,
        content_type: str = "application/json",
    ) -> httpx.Response:
        """Send a request, retrying transient failures; raise runyard errors for 4xx/5xx.

        ``retry_all=False`` retries only failures where the request surely was not applied
        (the connection was refused), for writes that are not idempotent.
        """
        if body is not None:
            content = json.dumps(body, allow_nan=False).encode()
        headers = {"Content-Type": content_type} if content is not None else None
        deadline = time.monotonic() + self._max_retry_s
        delay = 0.05
        while True:
            failure: RunyardError
            try:
                response = self._client.request(
                    method, path, content=content, params=params, headers=headers
                )
            except httpx.ConnectError as e:
                failure = StoreUnavailable(f"{what}: cannot reach {self.uri}: {e}")
            except httpx.TransportError as e:
                failure = StoreUnavailable(f"{what}: connection to {self.uri} failed: {e}")
                if not retry_all:
                    raise failure from e
            else:
                if response.status_code < 400:
                    return response
                failure = _error_from(response, what)
                if response.status_code < 500 or response.status_code == 501:
                    raise failure
                if not retry_all and response.status_code != 503:
                    raise failure
            if time.monotonic() + delay > deadline:
                raise failure
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)

    def _capability(self, name: str) -> bool:
        if self._capabilities is None:
            self._capabilities = dict(
                self._call("GET", "/api/v1/capabilities", "capabilities").json()
            )
        return bool(self._capabilities.get(name, False))

    @property
    def supports_cache(self) -> bool:
        """True when the server's store keeps the pipeline cache."""
        return self._capability("cache")

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    # -- experiments ----------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Create an experiment and return its id."""
        body = {"name": name, "artifact_location": artifact_location, "tags": dict(tags or {})}
        response = self._call(
            "POST", "/api/v1/experiments", "create_experiment", body=body, retry_all=False
        )
        return str(response.json()["experiment_id"])

    def get_experiment(self, experiment_id: str) -> Experiment:
        """Return the experiment. Raises NotFound."""
        r = self._call("GET", f"/api/v1/experiments/{_seg(experiment_id)}", "get_experiment")
        return _experiment(ExperimentOut.model_validate_json(r.content))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """Return the experiment with that name, or None."""
        try:
            r = self._call(
                "GET",
                "/api/v1/experiments/by-name",
                "get_experiment_by_name",
                params={"name": name},
            )
        except NotFound:
            return None
        return _experiment(ExperimentOut.model_validate_json(r.content))

    def search_experiments(
        self,
        view: ViewType = LifecycleStage.ACTIVE,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[Experiment]:
        """List experiments by creation order."""
        params: dict[str, Any] = {"view": _VIEWS[view], "max_results": max_results}
        if page_token is not None:
            params["page_token"] = page_token
        r = self._call("GET", "/api/v1/experiments", "search_experiments", params=params)
        page = ExperimentPage.model_validate_json(r.content)
        return Page(tuple(_experiment(e) for e in page.experiments), page.next_page_token)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename. Raises NotFound, AlreadyExists."""
        path = f"/api/v1/experiments/{_seg(experiment_id)}"
        self._call("PATCH", path, "rename_experiment", body={"name": new_name})

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        """Set (or overwrite) an experiment tag."""
        path = f"/api/v1/experiments/{_seg(experiment_id)}/tags"
        self._call("POST", path, "set_experiment_tag", body={"key": key, "value": value})

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete the experiment and hide its runs."""
        path = f"/api/v1/experiments/{_seg(experiment_id)}"
        self._call("DELETE", path, "delete_experiment")

    def restore_experiment(self, experiment_id: str) -> None:
        """Undo :meth:`delete_experiment`."""
        path = f"/api/v1/experiments/{_seg(experiment_id)}/restore"
        self._call("POST", path, "restore_experiment")

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
        """Create a RUNNING run (retried only when the server was not reached)."""
        body = {
            "experiment_id": str(experiment_id),
            "name": name,
            "start_time": start_time,
            "tags": dict(tags or {}),
            "parent_run_id": parent_run_id,
            "artifact_uri": artifact_uri,
        }
        r = self._call("POST", "/api/v1/runs", "create_run", body=body, retry_all=False)
        return _run(RunOut.model_validate_json(r.content))

    def get_run(self, run_id: str) -> Run:
        """Return the run. Raises NotFound."""
        r = self._call("GET", f"/api/v1/runs/{_seg(run_id)}", "get_run")
        return _run(RunOut.model_validate_json(r.content))

    def update_run(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        name: str | None = None,
    ) -> Run:
        """Change status, end time or name; returns the updated run."""
        body = {
            "status": None if status is None else RunStatus(status).value,
            "end_time": end_time,
            "name": name,
        }
        r = self._call("PATCH", f"/api/v1/runs/{_seg(run_id)}", "update_run", body=body)
        return _run(RunOut.model_validate_json(r.content))

    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run."""
        self._call("DELETE", f"/api/v1/runs/{_seg(run_id)}", "delete_run")

    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run`."""
        self._call("POST", f"/api/v1/runs/{_seg(run_id)}/restore", "restore_run")

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        batch_id: str | None = None,
    ) -> None:
        """Append points and set params and tags; retried safely under one batch id.

        The points travel as one Arrow IPC record batch (``POST .../batch/arrow``).
        """
        keys, values, steps, stamps = _metric_columns(metrics)
        body = arrow_body(
            keys,
            values,
            steps,
            stamps,
            params=dict(params or {}),
            tags=dict(tags or {}),
            batch_id=batch_id or f"rest-{uuid.uuid4().hex}",
        )
        path = f"/api/v1/runs/{_seg(run_id)}/batch/arrow"
        self._call("POST", path, "log_batch", content=body, content_type=ARROW_STREAM)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag. Raises NotFound."""
        path = f"/api/v1/runs/{_seg(run_id)}/tags/delete"
        self._call("POST", path, "delete_tag", body={"key": key})

    def get_metric_history(self, run_id: str, key: str) -> MetricSeries:
        """Return a whole series. Raises NotFound for the run."""
        path = f"/api/v1/runs/{_seg(run_id)}/metrics/history"
        r = self._call("GET", path, "get_metric_history", params={"key": key})
        return _series(SeriesOut.model_validate_json(r.content))

    def get_metric_histories(self, run_ids: Sequence[str], key: str) -> list[MetricSeries]:
        """The series of ``key`` for many runs in one request (an Arrow IPC stream)."""
        if not run_ids:
            return []
        body = {"run_ids": list(run_ids), "key": key, "format": "arrow"}
        r = self._call("POST", "/api/v1/metrics/histories", "get_metric_histories", body=body)
        return _series_from_arrow(r.content, list(run_ids), key)

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        order_by: Sequence[str] = (),
        max_results: int = 1000,
        page_token: str | None = None,
        view: ViewType = LifecycleStage.ACTIVE,
    ) -> Page[Run]:
        """Search runs with the runyard filter language."""
        if isinstance(experiment_ids, str):
            raise InvalidArgument("experiment_ids must be a list of ids, not one string")
        body = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "filter": filter_string,
            "order_by": [order_by] if isinstance(order_by, str) else list(order_by),
            "max_results": max_results,
            "page_token": page_token,
            "view": _VIEWS[view],
        }
        r = self._call("POST", "/api/v1/runs/search", "search_runs", body=body)
        page = RunPage.model_validate_json(r.content)
        return Page(tuple(_run(run) for run in page.runs), page.next_page_token)

    # -- artifacts and lineage ------------------------------------------------------------

    def log_artifact_refs(self, run_id: str, refs: Sequence[ArtifactRef]) -> None:
        """Record artifacts on a run."""
        body = [{"path": r.path, "digest": r.digest, "size": r.size, "uri": r.uri} for r in refs]
        path = f"/api/v1/runs/{_seg(run_id)}/artifact-refs"
        self._call("POST", path, "log_artifact_refs", body=body)

    def list_artifact_refs(self, run_id: str, prefix: str = "") -> list[ArtifactRef]:
        """Artifacts recorded on the run whose path starts with ``prefix``."""
        path = f"/api/v1/runs/{_seg(run_id)}/artifact-refs"
        r = self._call("GET", path, "list_artifact_refs", params={"prefix": prefix})
        return [ArtifactRef(a["path"], a["digest"], int(a["size"]), a["uri"]) for a in r.json()]

    def add_lineage(self, edges: Sequence[LineageEdge]) -> None:
        """Record lineage edges."""
        body = [
            {
                "source_kind": NodeKind(e.source_kind).value,
                "source_id": e.source_id,
                "target_kind": NodeKind(e.target_kind).value,
                "target_id": e.target_id,
                "relation": e.relation,
            }
            for e in edges
        ]
        if body:
            self._call("POST", "/api/v1/lineage", "add_lineage", body=body)

    def get_lineage(self, node_id: str, direction: str = "both") -> list[LineageEdge]:
        """Edges into, out of, or touching a node."""
        params = {"node_id": node_id, "direction": direction}
        r = self._call("GET", "/api/v1/lineage", "get_lineage", params=params)
        return [
            LineageEdge(
                NodeKind(e["source_kind"]),
                e["source_id"],
                NodeKind(e["target_kind"]),
                e["target_id"],
                e["relation"],
            )
            for e in r.json()
        ]

    # -- pipeline cache -------------------------------------------------------------------

    def put_cache_entry(self, key: str, payload: str) -> None:
        """Store ``payload`` under ``key``."""
        if not self.supports_cache:
            raise NotImplementedError("the server's store keeps no pipeline cache")
        body = {"key": key, "payload": payload}
        self._call("PUT", "/api/v1/cache", "put_cache_entry", body=body)

    def get_cache_entry(self, key: str) -> str | None:
        """The payload stored under ``key``, or None."""
        if not self.supports_cache:
            raise NotImplementedError("the server's store keeps no pipeline cache")
        r = self._call("GET", "/api/v1/cache", "get_cache_entry", params={"key": key})
        payload = r.json().get("payload")
        return None if payload is None else str(payload)


def _seg(value: str) -> str:
    """Quote one path segment (ids never contain ``/``, but refuse to be tricked)."""
    from urllib.parse import quote

    return quote(str(value), safe="")


def _int64_column(metrics: Sequence[Metric], raw: list[Any], what: str) -> array[int]:
    if all(type(x) is int for x in raw):
        try:
            return array("q", raw)
        except OverflowError:
            pass
    out: array[int] = array("q")
    for m, x in zip(metrics, raw, strict=True):
        n = check_step(m.key, x) if what == "step" else int(x)
        if not -(2**63) <= n < 2**63:
            raise InvalidArgument(f"metric {m.key!r}: {what} {n} does not fit in 64 bits")
        out.append(n)
    return out


def _metric_columns(
    metrics: Sequence[Metric],
) -> tuple[list[str], array[float], array[int], array[int]]:
    """Checked columns of the points (the checks of ``check_metric_value`` / ``check_step``)."""
    keys = [m.key for m in metrics]
    if not all(type(k) is str for k in keys):
        bad = next(k for k in keys if type(k) is not str)
        raise InvalidArgument(f"a metric key must be a string, got {bad!r}")
    raw_values = [m.value for m in metrics]
    try:
        values = array("d", raw_values)
    except TypeError:
        values = array("d", [check_metric_value(m.key, m.value) for m in metrics])
    steps = _int64_column(metrics, [m.step for m in metrics], "step")
    stamps = _int64_column(metrics, [m.timestamp for m in metrics], "timestamp")
    return keys, values, steps, stamps


def _series_from_arrow(data: bytes, run_ids: list[str], key: str) -> list[MetricSeries]:
    try:
        import pyarrow as pa
    except ImportError as e:  # pragma: no cover - pyarrow is a core dependency
        raise MissingDependency("pyarrow", "all") from e
    table = pa.ipc.open_stream(data).read_all()
    codes = table.column("run_id").combine_chunks()
    steps = table.column("step").to_numpy()
    values = table.column("value").to_numpy()
    stamps = table.column("timestamp").to_numpy()
    indices = codes.indices.to_numpy(zero_copy_only=False)
    bounds = indices.searchsorted(range(len(run_ids) + 1))
    out = []
    for i, run_id in enumerate(run_ids):
        part = slice(int(bounds[i]), int(bounds[i + 1]))
        out.append(
            MetricSeries(
                run_id,
                key,
                array("q", steps[part].tobytes()),
                array("d", values[part].tobytes()),
                array("q", stamps[part].tobytes()),
            )
        )
    return out
