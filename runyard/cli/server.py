"""``runyard server``: the tracking server (native REST API, MLflow REST API, artifact proxy)."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console

__all__ = ["register", "server"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def server(
    backend_store_uri: Annotated[
        str | None,
        typer.Option(
            "--backend-store-uri",
            envvar="RUNYARD_TRACKING_URI",
            help="Tracking store: sqlite:///path.db or postgresql://user@host:port/db.",
        ),
    ] = None,
    artifact_uri: Annotated[
        str | None,
        typer.Option(
            "--artifact-uri",
            envvar="RUNYARD_ARTIFACT_URI",
            help="Artifact store the proxy serves: a folder, file://, s3:// or gs:// URI.",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes (share one store).")] = 1,
    auth: Annotated[
        bool, typer.Option("--auth/--no-auth", help="Require bearer tokens (runyard tokens).")
    ] = False,
    max_body_mb: Annotated[
        int, typer.Option(min=1, help="Largest JSON request body in MiB (413 above).")
    ] = 64,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve the tracking store over HTTP (also speaks the MLflow REST API).

    Example:
        runyard server --backend-store-uri sqlite:///runs.db --artifact-uri ./artifacts
    """
    import uvicorn

    from runyard.config import resolve_artifact_uri, resolve_tracking_uri
    from runyard.server.factory import AUTH_ENV, BACKEND_ENV, MAX_BODY_ENV
    from runyard.tracking.store import get_store

    backend = resolve_tracking_uri(backend_store_uri)
    if backend.split(":", 1)[0].lower() in ("http", "https"):
        raise typer.BadParameter("the backend store must be a database URI, not a server")
    os.environ[BACKEND_ENV] = backend
    os.environ["RUNYARD_ARTIFACT_URI"] = resolve_artifact_uri(artifact_uri)
    os.environ[AUTH_ENV] = "1" if auth else "0"
    os.environ[MAX_BODY_ENV] = str(max_body_mb * 1024 * 1024)
    get_store(backend).close()  # migrate once, before the workers start
    console = Console(stderr=True)
    if not auth and host not in _LOOPBACK:
        console.print(
            f"[yellow]warning:[/] listening on {host} without --auth: anyone who can reach "
            "this port can read and write every run"
        )
    console.print(f"runyard server on http://{host}:{port} ({workers} worker(s)), store {backend}")
    uvicorn.run(
        "runyard.server.factory:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        timeout_graceful_shutdown=5,
    )


def register(app: typer.Typer) -> None:
    """Add ``runyard server`` to the root app."""
    app.command("server")(server)
