"""What every route of one server shares: the stores and the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from runyard.artifacts.base import ArtifactStore
from runyard.server.telemetry import Telemetry
from runyard.tracking.store.base import TrackingStore

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ServerContext", "context_of"]

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
"""The largest JSON request body accepted (artifact uploads are streamed and not limited)."""


@dataclass(frozen=True)
class ServerContext:
    """The stores and settings a server was built with.

    Attributes:
        store: the tracking store every route reads and writes.
        artifacts: the artifact store the proxy streams files to and from.
        auth: whether bearer tokens are required.
        max_body_bytes: the JSON body limit (larger bodies get 413).
        telemetry: request counters and latencies for ``/metrics``.
    """

    store: TrackingStore
    artifacts: ArtifactStore
    auth: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    telemetry: Telemetry = field(default_factory=Telemetry)


def context_of(request: Request) -> ServerContext:
    """The :class:`ServerContext` of the app serving ``request`` (a FastAPI dependency)."""
    ctx: ServerContext = request.app.state.runyard
    return ctx
