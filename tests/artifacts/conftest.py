"""A real S3-protocol server for the artifact tests: moto's server mode, in its own process.

The server listens on 127.0.0.1 on a free port, is started once per test session and is
stopped by its process id. Each test gets its own key prefix in one bucket, so tests never
see each other's objects.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runyard.artifacts import ArtifactStore, FsspecArtifactStore

BUCKET = "runyard-artifacts"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "runyard-test",
    "AWS_SECRET_ACCESS_KEY": "runyard-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_serving(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60  # a start-up deadline, not a performance threshold
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"moto server did not answer on {url}:\n{log.read_text()}")


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of a moto S3 server process with the test bucket."""
    log = tmp_path_factory.mktemp("moto") / "server.log"
    port = _free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **CREDENTIALS},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(proc, url, log)
        with pytest.MonkeyPatch.context() as mp:
            for name, value in CREDENTIALS.items():
                mp.setenv(name, value)
            import s3fs

            s3fs.S3FileSystem(endpoint_url=url, skip_instance_cache=True).mkdir(BUCKET)
        yield url
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def aws_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Dummy credentials and ``AWS_ENDPOINT_URL`` pointing at the moto server."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    return s3_endpoint


@pytest.fixture
def s3_bucket(aws_env: str) -> str:
    """The bucket the tests share (each test keeps to its own prefix)."""
    return BUCKET


@pytest.fixture
def s3_area(aws_env: str) -> str:
    """``s3://bucket/<unique>``: this test's own empty area in the bucket."""
    return f"s3://{BUCKET}/test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def s3_store_at(s3_area: str) -> Iterator[Callable[[str], ArtifactStore]]:
    """Stores under this test's area; the area is emptied afterwards."""

    def store_at(sub: str, **options: Any) -> ArtifactStore:
        return FsspecArtifactStore(f"{s3_area}/{sub}" if sub else s3_area, **options)

    yield store_at
    store_at("").delete("root", missing_ok=True)
