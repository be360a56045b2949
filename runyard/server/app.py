"""The runyard tracking server as an ASGI app.

:func:`create_app` adapts any :class:`~runyard.tracking.store.base.TrackingStore` and any
:class:`~runyard.artifacts.base.ArtifactStore`. Routes are thin: they parse a wire model,
call the store, serialise the answer; errors become responses through the one table in
:mod:`runyard.server.errors`. The app serves the native ``/api/v1`` API, the MLflow REST API
under ``/api/2.0/mlflow`` (and the ``mlflow-artifacts`` proxy), ``/health``, ``/ready`` and
``/metrics``, and its OpenAPI spec at ``/openapi.json``.
"""

from __future__ import annotations

from fastapi import FastAPI

from runyard.artifacts.base import ArtifactStore
from runyard.server.context import DEFAULT_MAX_BODY_BYTES, ServerContext
from runyard.server.errors import install_error_handlers
from runyard.server.middleware import GuardMiddleware
from runyard.server.mlflow_compat import routers as mlflow_routers
from runyard.server.routes import artifacts as artifact_routes
from runyard.server.routes import (
    experiments,
    health,
    lineage,
    metrics,
    registry,
    runs,
    search,
    tokens,
)
from runyard.tracking.store.base import TrackingStore

__all__ = ["API_VERSION", "create_app"]

API_VERSION = "1.0.0"


def create_app(
    store: TrackingStore,
    artifacts: ArtifactStore,
    *,
    auth: bool = False,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """Build the server app over a tracking store and an artifact store.

    Args:
        store: every route reads and writes this store.
        artifacts: the artifact proxy streams files to and from this store.
        auth: require bearer tokens (``runyard tokens create``) on every route but ``/health``.
        max_body_bytes: JSON bodies larger than this are refused with 413 (artifact uploads
            are streamed and not limited).

    Returns:
        A FastAPI app; serve it with uvicorn, or drive it in-process with a test client.

    Example:
        >>> from runyard.artifacts import get_artifact_store
        >>> from runyard.tracking.store import get_store
        >>> app = create_app(get_store("sqlite:////tmp/ry.db"),
        ...                  get_artifact_store("/tmp/ry-artifacts"))  # doctest: +SKIP
        >>> # uvicorn.run(app, host="127.0.0.1", port=5000)
    """
    app = FastAPI(
        title="runyard tracking server",
        version=API_VERSION,
        description="Experiments, runs, metrics, artifacts and lineage; also the MLflow REST API.",
    )
    ctx = ServerContext(store, artifacts, auth=auth, max_body_bytes=max_body_bytes)
    app.state.runyard = ctx
    install_error_handlers(app)
    for module in (health, experiments, search, runs, metrics, lineage, artifact_routes):
        app.include_router(module.router)
    app.include_router(registry.router)
    app.include_router(tokens.router)
    app.include_router(artifact_routes.moves_router)
    for router in mlflow_routers():
        app.include_router(router)
    app.add_middleware(GuardMiddleware, ctx=ctx)
    return app
