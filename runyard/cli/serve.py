"""``runyard serve URI [URI ...]``: serve registered models over the Open Inference Protocol."""

from __future__ import annotations

from typing import Annotated

import typer

from runyard.cli.options import ArtifactUri, TrackingUri

__all__ = ["register", "serve_command"]


def serve_command(
    models: Annotated[
        list[str],
        typer.Argument(
            help="Model URIs (models:/name@alias, models:/name/3, runs:/id/path), "
            "optionally as name=uri."
        ),
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    http_port: Annotated[int, typer.Option("--http-port", help="REST port (0: off).")] = 8000,
    grpc_port: Annotated[int, typer.Option("--grpc-port", help="gRPC port (0: off).")] = 8001,
    max_batch_size: Annotated[
        int, typer.Option("--max-batch-size", help="Rows per dynamic batch (1: no batching).")
    ] = 64,
    max_queue_delay_ms: Annotated[
        float,
        typer.Option(
            "--max-queue-delay-ms",
            help="Longest wait for a batch to fill, only while requests arrive closer together "
            "than this (0: greedy, batch what queued meanwhile).",
        ),
    ] = 0.0,
    max_request_mb: Annotated[
        float, typer.Option("--max-request-mb", help="Largest request body accepted.")
    ] = 16.0,
    max_batch_rows: Annotated[
        int, typer.Option("--max-batch-rows", help="Largest batch one request may carry.")
    ] = 4096,
    poll_interval: Annotated[
        float, typer.Option("--poll-interval", help="Seconds between alias checks (0: off).")
    ] = 2.0,
    drain_timeout: Annotated[
        float, typer.Option("--drain-timeout", help="Seconds in-flight requests get at stop.")
    ] = 30.0,
    uvloop: Annotated[
        bool | None,
        typer.Option(
            "--uvloop/--no-uvloop",
            help="Run on uvloop, or on asyncio's own event loop (default: uvloop when "
            "installed, unless RUNYARD_SERVE_UVLOOP=0).",
            show_default=False,
        ),
    ] = None,
    tracking_uri: TrackingUri = None,
    artifact_uri: ArtifactUri = None,
) -> None:
    """Serve models over HTTP and gRPC (KServe V2), batched, hot-reloaded on alias moves."""
    from runyard.serving import BatchConfig, ServeConfig, ServingLimits, serve
    from runyard.tracking.client import Client

    serve(
        ServeConfig(
            models,
            host=host,
            http_port=http_port,
            grpc_port=grpc_port,
            batching=BatchConfig(max_batch_size, max_queue_delay_ms / 1000.0),
            limits=ServingLimits(int(max_request_mb * 1024 * 1024), max_batch_rows),
            poll_interval=poll_interval,
            drain_timeout=drain_timeout,
            uvloop=uvloop,
        ),
        Client(tracking_uri, artifact_uri),
    )


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to the root app."""
    app.command("serve")(serve_command)
