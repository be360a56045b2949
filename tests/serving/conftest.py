"""A registry with digits models, and real ``runyard serve`` processes on free ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from runyard.registry import log_model, register_model, set_alias
from runyard.tracking.client import Client, start_run

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Registry:
    home: Path

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.home / 'runyard.db'}"

    @property
    def artifact_uri(self) -> str:
        return str(self.home / "artifacts")

    def client(self) -> Client:
        return Client(self.tracking_uri, self.artifact_uri)

    def publish(
        self, name: str, model: Any, example: Any, alias: str = "champion", **kw: Any
    ) -> int:
        with start_run(
            experiment="serving", tracking_uri=self.tracking_uri, artifact_uri=self.artifact_uri
        ) as run:
            log_model(run, model, "model", input_example=example, **kw)
        mv = register_model(name, run=run, client=self.client())
        set_alias(name, alias, mv.version, client=self.client())
        return mv.version


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    http_port: int
    grpc_port: int
    log: Path

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        return self.proc.wait(timeout)


def _serve_argv() -> list[str]:
    """``runyard serve`` once the lead wires it; until then the same command, standalone."""
    from runyard.cli.app import app

    names = {c.name for c in app.registered_commands}
    if "serve" in names:
        return [sys.executable, "-c", "from runyard.cli.app import main; main()", "serve"]
    return [
        sys.executable,
        "-c",
        "import typer; from runyard.cli import serve; a = typer.Typer(); "
        "serve.register(a); a.command('noop', hidden=True)(lambda: None); a()",
        "serve",
    ]


def start_server(reg: Registry, models: list[str], tmp: Path, *extra: str) -> Served:
    http_port, grpc_port = free_port(), free_port()
    log = tmp / f"serve-{http_port}.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RUNYARD_HOME": str(reg.home)}
    argv = [
        *_serve_argv(),
        *models,
        "--http-port",
        str(http_port),
        "--grpc-port",
        str(grpc_port),
        "--tracking-uri",
        reg.tracking_uri,
        "--artifact-uri",
        reg.artifact_uri,
        *extra,
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    served = Served(proc, http_port, grpc_port, log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"runyard serve exited {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://{served.http_url}/v2/health/ready", timeout=1).status_code == 200:
                return served
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    served.stop()
    raise RuntimeError(f"runyard serve did not become ready:\n{log.read_text()}")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, torch_mlp: Any, digits: Any) -> Registry:
    reg = Registry(tmp_path_factory.mktemp("registry"))
    reg.publish("digits-mlp", torch_mlp, digits[0][:8], flavor="onnx")
    return reg


@pytest.fixture(scope="module")
def server(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = start_server(
        registry,
        ["models:/digits-mlp@champion"],
        tmp_path_factory.mktemp("logs"),
        "--max-request-mb",
        "1",
    )
    yield served
    served.stop()


@pytest.fixture(scope="session")
def expected(torch_mlp: Any) -> Callable[[np.ndarray[Any, Any]], np.ndarray[Any, Any]]:
    import torch

    def run(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        with torch.inference_mode():
            return np.asarray(torch_mlp(torch.from_numpy(x)).numpy())

    return run
