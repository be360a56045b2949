"""The active-run handle: what ``ry.start_run`` returns."""

from __future__ import annotations

import contextvars
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from runyard._internal.limits import (
    check_key,
    check_metric_value,
    check_param_value,
    check_step,
    check_tag_value,
)
from runyard.entities import ArtifactRef, LineageEdge, Metric, NodeKind, RunStatus
from runyard.entities import Run as RunInfo
from runyard.tracking.client.flusher import MetricFlusher
from runyard.tracking.store.base import TrackingStore

if TYPE_CHECKING:
    from runyard.artifacts.cas import ContentAddressedStore
    from runyard.tracking.client.system_metrics import SystemMetricsSampler

__all__ = ["Run", "active_run"]

_ACTIVE: contextvars.ContextVar[tuple[Run, ...]] = contextvars.ContextVar(
    "runyard_active_runs", default=()
)


def active_run() -> Run | None:
    """The innermost run started with ``with ry.start_run(...)`` in this context, if any."""
    stack = _ACTIVE.get()
    return stack[-1] if stack else None


def _now_ms() -> int:
    return int(time.time() * 1000)


class Run:
    """A live, tracked run. Use it as a context manager, or call :meth:`end`.

    Metrics are logged asynchronously in batches; params and tags are written at once so
    that a conflicting param raises where it was logged. An exception leaving the ``with``
    block marks the run FAILED, Ctrl-C marks it KILLED, a clean exit FINISHED.

    Example:
        >>> import runyard as ry
        >>> with ry.start_run(experiment="demo", params={"lr": 0.1}) as run:  # doctest: +SKIP
        ...     run.log_metrics({"loss": 0.3}, step=1)
    """

    def __init__(
        self,
        store: TrackingStore,
        artifacts: ContentAddressedStore | None,
        info: RunInfo,
        artifact_uri: str | None = None,
        synchronous: bool = False,
    ) -> None:
        self._store = store
        self._artifacts = artifacts
        self._artifact_uri = artifact_uri
        self._run_id = info.run_id
        self._experiment_id = info.experiment_id
        self._flusher = MetricFlusher(store, info.run_id, synchronous=synchronous)
        self._ended = False
        self._token: contextvars.Token[tuple[Run, ...]] | None = None
        self._sampler: SystemMetricsSampler | None = None

    # -- identity -----------------------------------------------------------------------

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self._run_id

    @property
    def experiment_id(self) -> str:
        """The id of the run's experiment."""
        return self._experiment_id

    @property
    def store(self) -> TrackingStore:
        """The tracking store this run writes to."""
        return self._store

    @property
    def info(self) -> RunInfo:
        """The run as stored now (flushes pending metrics first)."""
        self.flush()
        return self._store.get_run(self._run_id)

    # -- logging --------------------------------------------------------------------------

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Log one metric point (step defaults to 0)."""
        self.log_metrics({key: value}, step=step)

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Log several metrics at one step. Values may be NaN or ±inf."""
        ts = _now_ms() if timestamp is None else timestamp
        points = []
        for key, value in metrics.items():
            check_key(key, "metric key")
            points.append(
                Metric(
                    key,
                    check_metric_value(key, value),
                    0 if step is None else check_step(key, step),
                    ts,
                )
            )
        self._flusher.add(points)

    def log_param(self, key: str, value: object) -> None:
        """Set one param (immutable: a different value later raises ParamConflict)."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, object]) -> None:
        """Set params; values are stored as strings."""
        clean = {check_key(k, "param key"): check_param_value(k, str(v)) for k, v in params.items()}
        self._store.log_batch(self._run_id, params=clean)

    def set_tag(self, key: str, value: object) -> None:
        """Set or overwrite one tag."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, object]) -> None:
        """Set or overwrite tags; values are stored as strings."""
        clean = {check_key(k, "tag key"): check_tag_value(k, str(v)) for k, v in tags.items()}
        self._store.log_batch(self._run_id, tags=clean)

    # -- artifacts and lineage ------------------------------------------------------------

    def log_artifact(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> ArtifactRef:
        """Store a file (content-addressed) and record it on the run.

        Args:
            local_path: the file to store.
            artifact_path: a folder inside the run's artifacts; the file keeps its name.

        Returns:
            The recorded reference (path, sha256 digest, size, blob URI).
        """
        src = Path(local_path)
        dest = f"{artifact_path.strip('/')}/{src.name}" if artifact_path else src.name
        ref = self._cas().put_file(src, dest)
        self._store.log_artifact_refs(self._run_id, [ref])
        return ref

    def log_artifacts(
        self, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[ArtifactRef]:
        """Store every file under a directory, keeping relative paths."""
        refs = self._cas().put_dir(
            Path(local_dir), artifact_path.strip("/") if artifact_path else ""
        )
        self._store.log_artifact_refs(self._run_id, refs)
        return refs

    def log_bytes(self, data: bytes, artifact_path: str) -> ArtifactRef:
        """Store bytes as an artifact at ``artifact_path``."""
        ref = self._cas().put_bytes(data, artifact_path)
        self._store.log_artifact_refs(self._run_id, [ref])
        return ref

    def log_text(self, text: str, artifact_path: str) -> ArtifactRef:
        """Store text (UTF-8) as an artifact."""
        return self.log_bytes(text.encode(), artifact_path)

    def log_dict(self, obj: Any, artifact_path: str) -> ArtifactRef:
        """Store a JSON-serialisable object as a JSON artifact."""
        return self.log_text(json.dumps(obj, indent=2, sort_keys=True, default=str), artifact_path)

    def log_model(
        self,
        model: Any,
        artifact_path: str = "model",
        flavor: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Save a model in its flavor (detected, or ``flavor=``) with its signature.

        Flavors: ``torch`` (torch.export or TorchScript), ``onnx`` (exported from PyTorch and
        checked for numerical parity), ``sklearn``, ``python`` (a class with load/predict).
        See :func:`runyard.registry.log.log_model` for the options.

        Returns:
            A ``ModelInfo`` (flavor, signature, artifact path).

        Example:
            >>> info = run.log_model(torch_module, "model", input_example=x[:2])  # doctest: +SKIP
        """
        from runyard.registry.log import log_model

        return log_model(self, model, artifact_path, flavor, **kwargs)

    def log_lineage(
        self, inputs: Mapping[str, str] | None = None, outputs: Mapping[str, str] | None = None
    ) -> None:
        """Record what this run read and wrote.

        Args:
            inputs: node id → kind (``artifact``, ``dataset``, ``model``, ``run``) of inputs.
            outputs: the same for outputs.
        """
        edges = [
            LineageEdge(NodeKind(kind), node, NodeKind.RUN, self._run_id, "input")
            for node, kind in (inputs or {}).items()
        ] + [
            LineageEdge(NodeKind.RUN, self._run_id, NodeKind(kind), node, "output")
            for node, kind in (outputs or {}).items()
        ]
        self._store.add_lineage(edges)

    def _cas(self) -> ContentAddressedStore:
        if self._artifacts is None:
            from runyard.artifacts import open_cas

            self._artifacts = open_cas(self._artifact_uri)
        return self._artifacts

    # -- system metrics -------------------------------------------------------------------

    def start_system_metrics(self, interval: float = 10.0) -> None:
        """Sample CPU, memory (and GPU when present) every ``interval`` seconds."""
        from runyard.tracking.client.system_metrics import SystemMetricsSampler

        if self._sampler is None:
            self._sampler = SystemMetricsSampler(self.log_metrics, interval)
            self._sampler.start()

    # -- lifecycle ------------------------------------------------------------------------

    def flush(self) -> None:
        """Wait until every metric logged so far is stored."""
        self._flusher.flush()

    def end(self, status: RunStatus | str = RunStatus.FINISHED) -> None:
        """Flush, then mark the run ended with ``status``. Calling it twice is a no-op."""
        if self._ended:
            return
        self._ended = True
        if self._sampler is not None:
            self._sampler.stop()
        try:
            self._flusher.close()
        finally:
            self._store.update_run(self._run_id, status=RunStatus(status), end_time=_now_ms())

    def __enter__(self) -> Run:
        self._token = _ACTIVE.set((*_ACTIVE.get(), self))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _ACTIVE.reset(self._token)
            self._token = None
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
            if exc is not None:
                self._record_failure(exc)
        self.end(status)

    def _record_failure(self, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"[:8000]
        try:
            self._store.log_batch(self._run_id, tags={"runyard.error": message})
        except Exception:  # noqa: BLE001 - never mask the user's own exception
            pass

    def __repr__(self) -> str:
        return f"Run(run_id={self._run_id!r}, experiment_id={self._experiment_id!r})"
