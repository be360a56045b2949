"""One serving process: the model pool, the HTTP and gRPC front ends, graceful shutdown.

On SIGTERM or SIGINT both front ends stop accepting work, requests already received are
answered (HTTP connections finish their request; gRPC gets ``drain_timeout`` seconds of
grace), the batchers drain, and only then does the process exit.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runyard.serving.batching import BatchConfig
from runyard.serving.metrics import ServingMetrics
from runyard.serving.model_pool import ModelPool, ModelSpec
from runyard.serving.protocol import Inference, ServingLimits

if TYPE_CHECKING:
    from runyard.tracking.client import Client

__all__ = ["ServeConfig", "serve"]

log = logging.getLogger("runyard.serving")


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """Everything ``runyard serve`` takes.

    Attributes:
        models: ``uri`` or ``name=uri`` per served model.
        host: the address to listen on.
        http_port: the REST port (0: no REST front end).
        grpc_port: the gRPC port (0: no gRPC front end).
        batching: dynamic batching of every model.
        limits: request limits.
        poll_interval: seconds between alias checks (0: no hot reload).
        drain_timeout: seconds in-flight requests get at shutdown.
    """

    models: Sequence[str]
    host: str = "127.0.0.1"
    http_port: int = 8000
    grpc_port: int = 8001
    batching: BatchConfig = field(default_factory=BatchConfig)
    limits: ServingLimits = field(default_factory=ServingLimits)
    poll_interval: float = 2.0
    drain_timeout: float = 30.0


async def _serve(config: ServeConfig, pool: ModelPool, inference: Inference) -> None:
    from runyard.serving.grpc import create_grpc_server
    from runyard.serving.http import create_http_handler
    from runyard.serving.http_server import HttpServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    grpc_server = None
    if config.grpc_port:
        grpc_server = create_grpc_server(inference, config.host, config.grpc_port)
        await grpc_server.start()
    http_server = None
    if config.http_port:
        handler = create_http_handler(inference)
        http_server = HttpServer(handler.handle, config.limits.max_request_bytes, fast=handler.fast)
        await http_server.start(config.host, config.http_port)
    log.warning(
        "serving %s on http://%s:%s and grpc %s:%s",
        ", ".join(pool.names()),
        config.host,
        config.http_port,
        config.host,
        config.grpc_port,
    )
    await stop.wait()
    # graceful shutdown: both front ends stop taking work, in-flight requests finish
    pool.ready = False
    pending = []
    if grpc_server is not None:
        pending.append(asyncio.create_task(grpc_server.stop(config.drain_timeout)))
    if http_server is not None:
        pending.append(asyncio.create_task(http_server.shutdown(config.drain_timeout)))
    await asyncio.gather(*pending, return_exceptions=True)


def serve(config: ServeConfig, client: Client | None = None) -> None:
    """Load the models, serve them until SIGTERM/SIGINT, then drain and return.

    Raises:
        NotFound: a model URI names nothing.
        InvalidArgument: a bad URI, or two models with one name.

    Example:
        >>> serve(ServeConfig(["models:/digits-mlp@champion"]))  # doctest: +SKIP
    """
    metrics = ServingMetrics()
    pool = ModelPool(
        [ModelSpec.parse(m) for m in config.models],
        client,
        config.batching,
        observe=metrics.batch,
        on_reload=lambda name: metrics.reloads.labels(name).inc(),
    )
    pool.load()
    # what loading created lives as long as the server: keep it out of the cyclic GC's scans,
    # so a full collection during serving walks only per-request garbage (shorter pauses)
    gc.collect()
    gc.freeze()
    if config.poll_interval > 0:
        pool.start_watching(config.poll_interval)
    inference = Inference(pool, metrics, config.limits)
    try:
        asyncio.run(_serve(config, pool, inference))
    finally:
        pool.close(config.drain_timeout)
