"""One serving process: the model pool, the HTTP and gRPC front ends, graceful shutdown.

On SIGTERM or SIGINT both front ends stop accepting work, requests already received are
answered (HTTP connections finish their request; gRPC gets ``drain_timeout`` seconds of
grace), the batchers drain, and only then does the process exit.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runyard.serving.batching import BatchConfig
from runyard.serving.metrics import ServingMetrics
from runyard.serving.model_pool import ModelPool, ModelSpec
from runyard.serving.protocol import Inference, ServingLimits

if TYPE_CHECKING:
    from runyard.tracking.client import Client

__all__ = ["ServeConfig", "loop_factory", "serve"]

log = logging.getLogger("runyard.serving")

_GC_YOUNG = 20_000
UVLOOP_ENV = "RUNYARD_SERVE_UVLOOP"
"""Set to ``0`` to serve on the standard asyncio event loop even when uvloop is installed."""


def loop_factory(use_uvloop: bool | None = None) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop the server runs on: uvloop when installed and wanted, else asyncio's.

    ``use_uvloop`` None: wanted unless ``RUNYARD_SERVE_UVLOOP=0``.

    Example:
        >>> loop = loop_factory(use_uvloop=False)()
        >>> type(loop).__module__.startswith("asyncio")
        True
        >>> loop.close()
    """
    if use_uvloop is None:
        use_uvloop = os.environ.get(UVLOOP_ENV, "1").strip().lower() not in ("0", "false", "no")
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


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
        uvloop: run on uvloop (True), on asyncio's own loop (False), or on uvloop when it
            is installed unless ``RUNYARD_SERVE_UVLOOP=0`` (None).
    """

    models: Sequence[str]
    host: str = "127.0.0.1"
    http_port: int = 8000
    grpc_port: int = 8001
    batching: BatchConfig = field(default_factory=BatchConfig)
    limits: ServingLimits = field(default_factory=ServingLimits)
    poll_interval: float = 2.0
    drain_timeout: float = 30.0
    uvloop: bool | None = None


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
        "serving %s on http://%s:%s and grpc %s:%s (event loop: %s)",
        ", ".join(pool.names()),
        config.host,
        config.http_port,
        config.host,
        config.grpc_port,
        "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio",
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
    # a young-generation collection every 700 net allocations ran about once per turn of
    # the loop under load (32 requests in flight hold ~500 young containers between them);
    # 20,000 makes it ~30 times rarer, each one walking about the same live set
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(_GC_YOUNG, older, oldest)
    if config.poll_interval > 0:
        pool.start_watching(config.poll_interval)
    inference = Inference(pool, metrics, config.limits)
    try:
        with asyncio.Runner(loop_factory=loop_factory(config.uvloop)) as runner:
            runner.run(_serve(config, pool, inference))
    finally:
        pool.close(config.drain_timeout)
