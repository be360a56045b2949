"""The demo's last step: ``runyard serve`` the champion, ask it once, stop it gracefully.

The server is the real command in its own process, on a free loopback port (HTTP only), and
the request is plain Open Inference Protocol JSON, what any KServe V2 client sends.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from runyard.errors import RunyardError

__all__ = ["ServedAnswer", "serve_and_ask"]

READY_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ServedAnswer:
    """What the served model said: its URL, the digits it predicted and the true ones."""

    url: str
    predicted: list[int]
    true: list[int]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - loopback only
        return json.loads(reply.read())


def _wait_ready(proc: subprocess.Popen[bytes], base: str, log: Any) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-2000:]
            raise RunyardError(f"runyard serve exited with code {proc.returncode}:\n{tail}")
        try:
            _get(f"{base}/v2/health/ready")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RunyardError(f"runyard serve was not ready within {READY_TIMEOUT_S:.0f} s")


def _predicted_digits(outputs: list[dict[str, Any]], rows: int) -> list[int]:
    """The predicted digit per row: a ``predictions`` output, else the argmax of the scores."""
    import numpy as np

    by_name = {o["name"]: o for o in outputs}
    if "predictions" in by_name:
        return [int(v) for v in by_name["predictions"]["data"]]
    scores = np.asarray(outputs[0]["data"], dtype=np.float64).reshape(rows, -1)
    return [int(v) for v in scores.argmax(axis=1)]


def serve_and_ask(
    model: str,
    x: Any,
    y: Any,
    tracking_uri: str | None,
    artifact_uri: str | None,
) -> ServedAnswer:
    """Start ``runyard serve models:/<model>@champion``, send ``x`` to it, stop it."""
    port = _free_port()
    argv = [sys.executable, "-c", "from runyard.cli.app import main; main()", "serve",
            f"models:/{model}@champion", "--http-port", str(port), "--grpc-port", "0",
            "--poll-interval", "0"]  # fmt: skip
    if tracking_uri:
        argv += ["--tracking-uri", tracking_uri]
    if artifact_uri:
        argv += ["--artifact-uri", artifact_uri]
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
        try:
            _wait_ready(proc, base, log)
            meta = _get(f"{base}/v2/models/{model}")
            spec = meta["inputs"][0]
            tensor = {"name": spec["name"], "shape": list(x.shape), "datatype": spec["datatype"]}
            body = {"inputs": [{**tensor, "data": x.ravel().tolist()}]}
            request = urllib.request.Request(
                f"{base}/v2/models/{model}/infer",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 - loopback
                outputs = json.loads(reply.read())["outputs"]
        finally:
            proc.send_signal(signal.SIGTERM)  # graceful: in-flight requests drain first
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return ServedAnswer(base, _predicted_digits(outputs, len(x)), [int(v) for v in y])
