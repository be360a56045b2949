"""Servers for the server tests: in-process (uvicorn in a thread) and real processes.

Real servers run ``runyard server`` in a child process on a free loopback port and are
stopped by their process id. A fresh PostgreSQL database is made per session for the tests
that need one, and dropped at the end.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _ry_servers import (  # noqa: E402 - after the sys.path line above
    InProcessServer,
    ServerProcess,
    free_port,
    spawn_cli,
    wait_healthy,
)

from runyard.artifacts import get_artifact_store
from runyard.server import create_app
from runyard.tracking.store import get_store


@pytest.fixture
def spawn_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., ServerProcess]]:
    """Start `runyard server` processes; every one is stopped (by pid) at the end."""
    started: list[ServerProcess] = []

    def spawn(
        backend: str | None = None,
        *extra: str,
        workers: int = 1,
        env: dict[str, str] | None = None,
    ) -> ServerProcess:
        root = tmp_path_factory.mktemp("server")
        port = free_port()
        args = [
            "server",
            "--backend-store-uri", backend or f"sqlite:///{root / 'runyard.db'}",
            "--artifact-uri", str(root / "artifacts"),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--workers", str(workers),
            *extra,
        ]  # fmt: skip
        full_env = {**os.environ, "RUNYARD_HOME": str(root / "home"), **(env or {})}
        proc = spawn_cli(args, full_env)
        server = ServerProcess(proc, f"http://127.0.0.1:{port}", port, args, full_env)
        started.append(server)
        wait_healthy(server.url, proc=proc)
        return server

    yield spawn
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def pg_database(pg_database_factory: Callable[[], str]) -> Callable[[], str]:
    """Fresh PostgreSQL databases: the shared factory in tests/conftest.py."""
    return pg_database_factory


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    """One in-process server over a SQLite store, shared by a module's tests."""
    root = tmp_path_factory.mktemp("inproc")
    store = get_store(f"sqlite:///{root / 'runyard.db'}")
    app = create_app(store, get_artifact_store(str(root / "artifacts")), max_body_bytes=1 << 20)
    with InProcessServer(app) as server:
        server.artifact_root = root / "artifacts"  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def artifact_root(app_server: InProcessServer) -> Path:
    return app_server.artifact_root  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def http(app_server: InProcessServer) -> Iterator[httpx.Client]:
    """A client of the module's in-process server."""
    with httpx.Client(base_url=app_server.url, timeout=30) as c:
        yield c


@pytest.fixture
def run_id(http: httpx.Client) -> str:
    """A new run in the default experiment."""
    return str(http.post("/api/v1/runs", json={"experiment_id": "0"}).json()["run_id"])
