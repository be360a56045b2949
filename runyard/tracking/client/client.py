"""The tracking client: ``ry.start_run`` and ``ry.Client``."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard.config import resolve_artifact_uri, resolve_tracking_uri
from runyard.entities import ArtifactRef, Experiment, LineageEdge, Page, RunStatus
from runyard.entities import Run as RunInfo
from runyard.errors import AlreadyExists, InvalidArgument, NotFound
from runyard.tracking.client.history import HistoryFormat, series_to_table
from runyard.tracking.client.run import Run, active_run
from runyard.tracking.store.base import TrackingStore

if TYPE_CHECKING:
    from runyard.artifacts.cas import ContentAddressedStore

__all__ = ["Client", "start_run"]

_STORES: dict[str, TrackingStore] = {}
_STORES_LOCK = threading.Lock()


def _open_store(uri: str | None) -> TrackingStore:
    resolved = resolve_tracking_uri(uri)
    with _STORES_LOCK:
        pid_key = f"{os.getpid()}:{resolved}"
        store = _STORES.get(pid_key)
        if store is None:
            from runyard.tracking.store import get_store

            store = _STORES[pid_key] = get_store(resolved)
        return store


class Client:
    """Read and manage what is tracked: experiments, runs, metrics, artifacts, lineage.

    Args:
        tracking_uri: the store (``sqlite:///…``, ``postgresql://…``, ``http://…``); else
            ``$RUNYARD_TRACKING_URI``, else the project-local SQLite file.
        artifact_uri: the artifact store; else ``$RUNYARD_ARTIFACT_URI``, else the tracking
            server's artifact proxy when ``tracking_uri`` is ``http(s)://``, else a local folder.
        store: an already-open store (overrides ``tracking_uri``).

    Example:
        >>> import runyard as ry
        >>> client = ry.Client()  # doctest: +SKIP
        >>> best = client.search_runs(  # doctest: +SKIP
        ...     "digits", filter="metrics.acc > 0.9", order_by=["metrics.acc desc"]
        ... )
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        artifact_uri: str | None = None,
        store: TrackingStore | None = None,
    ) -> None:
        self.store = store or _open_store(tracking_uri)
        server = None if store is not None else resolve_tracking_uri(tracking_uri)
        self.artifact_uri = resolve_artifact_uri(artifact_uri, tracking_uri=server)
        self._cas: ContentAddressedStore | None = None

    # -- experiments ----------------------------------------------------------------------

    def get_or_create_experiment(self, name: str) -> Experiment:
        """Return the experiment called ``name``, creating it when missing."""
        found = self.store.get_experiment_by_name(name)
        if found is not None:
            return found
        try:
            return self.store.get_experiment(self.store.create_experiment(name))
        except AlreadyExists:  # created by someone else meanwhile
            again = self.store.get_experiment_by_name(name)
            if again is None:
                raise
            return again

    def get_experiment(self, name_or_id: str) -> Experiment:
        """Return an experiment by name, else by id. Raises NotFound."""
        found = self.store.get_experiment_by_name(name_or_id)
        if found is not None:
            return found
        return self.store.get_experiment(name_or_id)

    def list_experiments(self) -> list[Experiment]:
        """Every active experiment."""
        out: list[Experiment] = []
        token: str | None = None
        while True:
            page = self.store.search_experiments(page_token=token)
            out.extend(page.items)
            token = page.next_page_token
            if token is None:
                return out

    # -- runs -----------------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunInfo:
        """Return a run. Raises NotFound."""
        return self.store.get_run(run_id)

    def search_runs(
        self,
        experiments: str | Sequence[str],
        filter: str = "",  # noqa: A002 - the public name in the API sketch
        order_by: Sequence[str] = (),
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[RunInfo]:
        """Search runs of one or more experiments (names or ids).

        Args:
            experiments: an experiment name or id, or several.
            filter: e.g. ``metrics.acc > 0.9 and params.lr = '0.1'``.
            order_by: e.g. ``["metrics.acc desc"]``.
            max_results: page size.
            page_token: the previous page's ``next_page_token``.

        Raises:
            NotFound: an experiment does not exist.
            InvalidFilter: the filter does not parse (the message points at the token).
        """
        names = [experiments] if isinstance(experiments, str) else list(experiments)
        ids = [self.get_experiment(n).experiment_id for n in names]
        return self.store.search_runs(ids, filter, list(order_by), max_results, page_token)

    def get_metric_history(
        self,
        run_ids: str | Sequence[str],
        key: str,
        format: HistoryFormat = "arrow",  # noqa: A002
    ) -> Any:
        """The whole series of ``key`` for one or many runs, as one table.

        Returns:
            Columns ``run_id, key, step, value, timestamp`` as a pyarrow Table, a pandas or
            polars DataFrame (``format=``), or the list of ``MetricSeries``.
        """
        ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
        return series_to_table(self.store.get_metric_histories(ids, key), format)

    def set_terminated(self, run_id: str, status: RunStatus | str = RunStatus.FINISHED) -> None:
        """Mark a run ended (for runs created without a context manager)."""
        import time

        self.store.update_run(run_id, status=RunStatus(status), end_time=int(time.time() * 1000))

    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run."""
        self.store.delete_run(run_id)

    # -- artifacts and lineage ------------------------------------------------------------

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactRef]:
        """Artifacts recorded on a run, sorted by path."""
        return self.store.list_artifact_refs(run_id, prefix)

    def download_artifacts(
        self, run_id: str, path: str = "", dest: str | os.PathLike[str] = "."
    ) -> Path:
        """Download one artifact, or every artifact under a folder, to ``dest``.

        Returns:
            The local path of the file, or of the folder that holds the downloads.
        """
        refs = self.store.list_artifact_refs(run_id, path)
        exact = [r for r in refs if r.path == path]
        if exact:
            target = Path(dest) / Path(path).name
            return self.artifacts.download(exact[0], target)
        under = [r for r in refs if not path or r.path.startswith(path.rstrip("/") + "/")]
        if not under:
            raise NotFound(f"run {run_id} has no artifact at {path!r}")
        root = Path(dest)
        for ref in under:
            self.artifacts.download(ref, root / ref.path)
        return root / path if path else root

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """The bytes of one artifact."""
        for ref in self.store.list_artifact_refs(run_id, path):
            if ref.path == path:
                return self.artifacts.get_bytes(ref.digest)
        raise NotFound(f"run {run_id} has no artifact at {path!r}")

    def get_lineage(self, node_id: str, direction: str = "both") -> list[LineageEdge]:
        """Lineage edges touching a run id, artifact digest or dataset name."""
        return self.store.get_lineage(node_id, direction)

    @property
    def artifacts(self) -> ContentAddressedStore:
        """The content-addressed artifact store."""
        if self._cas is None:
            from runyard.artifacts import open_cas

            self._cas = open_cas(self.artifact_uri)
        return self._cas


def start_run(
    experiment: str | None = None,
    *,
    name: str | None = None,
    params: Mapping[str, object] | None = None,
    tags: Mapping[str, object] | None = None,
    parent: Run | str | None = None,
    nested: bool = False,
    run_id: str | None = None,
    tracking_uri: str | None = None,
    artifact_uri: str | None = None,
    log_system_metrics: bool = False,
    system_metrics_interval: float = 10.0,
    synchronous: bool = False,
) -> Run:
    """Start (or resume) a tracked run.

    Args:
        experiment: experiment name, created when missing (default ``Default``).
        name: a human-readable run name.
        params: params to set at once.
        tags: tags to set at once.
        parent: the parent run (or its id); with ``nested=True`` the active run is used.
        nested: nest under the innermost active run of this context.
        run_id: resume an existing run instead of creating one (its status goes back to
            RUNNING).
        tracking_uri: see :class:`Client`.
        artifact_uri: see :class:`Client`.
        log_system_metrics: sample CPU/memory/GPU onto the run.
        system_metrics_interval: seconds between samples.
        synchronous: write metrics at once instead of in background batches.

    Returns:
        A :class:`Run`; use it with ``with`` so that it ends with the right status.

    Example:
        >>> import runyard as ry
        >>> with ry.start_run(experiment="digits", params={"lr": 0.1}) as run:  # doctest: +SKIP
        ...     run.log_metrics({"loss": 0.3, "acc": 0.91}, step=1)
    """
    client = Client(tracking_uri, artifact_uri)
    store = client.store
    if run_id is not None:
        info = store.update_run(run_id, status=RunStatus.RUNNING)
    else:
        parent_id = parent.run_id if isinstance(parent, Run) else parent
        if parent_id is None and nested:
            outer = active_run()
            if outer is None:
                raise InvalidArgument("nested=True but no run is active in this context")
            parent_id = outer.run_id
        exp = client.get_or_create_experiment(experiment or "Default")
        info = store.create_run(exp.experiment_id, name=name, parent_run_id=parent_id)
    run = Run(store, None, info, artifact_uri=client.artifact_uri, synchronous=synchronous)
    try:
        if tags:
            run.set_tags(tags)
        if params:
            run.log_params(params)
    except BaseException:
        store.update_run(info.run_id, status=RunStatus.FAILED)
        raise
    if log_system_metrics:
        run.start_system_metrics(system_metrics_interval)
    return run
