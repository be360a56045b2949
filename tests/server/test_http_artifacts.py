"""Remote artifacts through the server's artifact proxy.

:class:`HttpArtifactStore` passes the artifact store conformance suites (and the
content-addressed wrapper's) against the app served in-process and against a real
``runyard server`` process; a user pointing ``RUNYARD_TRACKING_URI`` at a server logs an
artifact from one process and downloads it from another, and the bytes live in the
server's artifact root.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from _ry_servers import ServerProcess, free_port

from runyard.artifacts import ArtifactStore, get_artifact_store, open_cas
from runyard.artifacts.http import HttpArtifactStore
from runyard.errors import InvalidArgument, NotFound, StoreError, StoreUnavailable, UnsafePath
from runyard.testing.artifact_store import ArtifactStoreSuite, ContentAddressedStoreSuite

StoreAt = Callable[[str], ArtifactStore]


def _store_at(url: str) -> Iterator[StoreAt]:
    """Stores rooted in this test's own folder of the server's artifact store."""
    area = f"area-{uuid.uuid4().hex[:12]}"
    made: list[HttpArtifactStore] = []

    def store_at(sub: str) -> ArtifactStore:
        folder = f"{area}/{sub}" if sub else area
        store = HttpArtifactStore(f"{url}/api/v1/artifacts/{folder}", max_retry_s=5)
        made.append(store)
        return store

    yield store_at
    store_at("").delete("root", missing_ok=True)
    for store in made:
        store.close()


@pytest.fixture(scope="module")
def real_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerProcess]:
    """One `runyard server` process (SQLite, local artifact folder) for this module."""
    from _ry_servers import spawn_cli, wait_healthy

    root = tmp_path_factory.mktemp("real-artifacts")
    port = free_port()
    args = ["server", "--backend-store-uri", f"sqlite:///{root / 'runyard.db'}",
            "--artifact-uri", str(root / "artifacts"), "--port", str(port)]  # fmt: skip
    env = {**os.environ, "RUNYARD_HOME": str(root / "home")}
    server = ServerProcess(spawn_cli(args, env), f"http://127.0.0.1:{port}", port, args, env)
    try:
        wait_healthy(server.url, proc=server.proc)
        server.artifact_root = root / "artifacts"  # type: ignore[attr-defined]
        yield server
    finally:
        server.stop()


class TestHttpArtifactStoreInProcess(ArtifactStoreSuite):
    __test__ = True

    @pytest.fixture
    def store_at(self, app_server: object) -> Iterator[StoreAt]:
        yield from _store_at(app_server.url)  # type: ignore[attr-defined]


class TestHttpContentAddressedStoreInProcess(ContentAddressedStoreSuite):
    __test__ = True

    @pytest.fixture
    def store_at(self, app_server: object) -> Iterator[StoreAt]:
        yield from _store_at(app_server.url)  # type: ignore[attr-defined]


class TestHttpArtifactStoreRealServer(ArtifactStoreSuite):
    __test__ = True

    @pytest.fixture
    def store_at(self, real_server: ServerProcess) -> Iterator[StoreAt]:
        yield from _store_at(real_server.url)


# -- the URI, errors and retries ------------------------------------------------------------


@pytest.fixture
def opened() -> Iterator[Callable[..., ArtifactStore]]:
    """Open stores by URI; every one is closed at the end."""
    stores: list[ArtifactStore] = []

    def open_store(uri: str, **options: object) -> ArtifactStore:
        stores.append(get_artifact_store(uri, **options))
        return stores[-1]

    yield open_store
    for store in stores:
        assert isinstance(store, HttpArtifactStore)
        store.close()


def test_uris_pick_the_proxy_and_its_folder(
    app_server: object, opened: Callable[..., ArtifactStore]
) -> None:
    """``http://host:port`` and ``…/api/v1/artifacts/<folder>`` both name the proxy."""
    url = app_server.url  # type: ignore[attr-defined]
    whole = opened(url)
    assert isinstance(whole, HttpArtifactStore)
    assert whole.uri == f"{url}/api/v1/artifacts"
    folder = opened(f"{url}/api/v1/artifacts/team/a/")
    assert folder.uri == f"{url}/api/v1/artifacts/team/a"
    folder.put_bytes(b"x", "f.txt")
    assert whole.get_bytes("team/a/f.txt") == b"x"
    assert whole.delete("team") == 1
    for bad in ("ftp://host/x", "http://", "http://h/api/v1/artifacts/../x", "http://h/?q=1"):
        with pytest.raises((InvalidArgument, UnsafePath)):
            HttpArtifactStore(bad)


def test_refused_paths_never_reach_the_server(
    app_server: object, artifact_root: Path, opened: Callable[..., ArtifactStore]
) -> None:
    """An unsafe path is refused locally and by the server; no file outside the root."""
    store = opened(app_server.url)  # type: ignore[attr-defined]
    with pytest.raises(UnsafePath, match="refused"):
        store.put_bytes(b"attacker", "../escape.txt")
    raw = httpx.put(f"{store.uri}/..%2f..%2fescape.txt", content=b"attacker")
    assert raw.status_code in (400, 404)
    assert not (artifact_root.parent / "escape.txt").exists()


def test_a_stopped_server_is_store_unavailable_after_retries(
    tmp_path: Path, opened: Callable[..., ArtifactStore]
) -> None:
    """Nothing listening: a transient error, retried, then StoreUnavailable."""
    store = opened(f"http://127.0.0.1:{free_port()}", max_retry_s=0.3)
    with pytest.raises(StoreUnavailable, match="connection"):
        store.put_bytes(b"x", "a.txt")
    with pytest.raises(StoreUnavailable):
        store.get_bytes("a.txt")
    (local := tmp_path / "f.bin").write_bytes(b"f")
    with pytest.raises(StoreUnavailable):
        store.put_file(local, "f.bin")
    assert isinstance(StoreUnavailable("x"), StoreError)


def test_uploads_retry_until_the_server_comes_back(
    spawn_server: Callable[..., ServerProcess],
    tmp_path: Path,
    opened: Callable[..., ArtifactStore],
) -> None:
    """A file upload started while the server is down arrives once it is back, whole."""
    server = spawn_server()
    store = opened(server.url, max_retry_s=60)
    (local := tmp_path / "weights.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    server.stop()
    import threading

    restarted = threading.Timer(0.5, server.restart)
    restarted.start()
    try:
        assert store.put_file(local, "ckpt/weights.bin").size == 3 * 1024 * 1024
    finally:
        restarted.join()
    assert store.get_bytes("ckpt/weights.bin") == local.read_bytes()
    with pytest.raises(NotFound):
        store.info("ckpt/other.bin")


# -- the user's story -------------------------------------------------------------------------


def _python(code: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_remote_runs_keep_artifacts_on_the_server(
    spawn_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    """Log from one process, download from another: the blob lives in the server's root."""
    server = spawn_server()
    server_root = Path(server.args[server.args.index("--artifact-uri") + 1])
    payload = os.urandom(2 * 1024 * 1024 + 17)
    (logger_dir := tmp_path / "logger").mkdir()
    (logger_dir / "model.bin").write_bytes(payload)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    env["RUNYARD_TRACKING_URI"] = server.url
    run_id = _python(
        """
        import runyard as ry
        with ry.start_run("remote-artifacts") as run:
            run.log_artifact("model.bin", "weights")
        print(run.run_id)
        """,
        {**env, "RUNYARD_HOME": str(logger_dir / ".runyard")},
        logger_dir,
    )
    digest = hashlib.sha256(payload).hexdigest()
    blob = server_root / "blobs" / "sha256" / digest[:2] / digest[2:]
    assert blob.read_bytes() == payload
    assert not (logger_dir / ".runyard" / "artifacts").exists()  # nothing kept locally

    (reader_dir := tmp_path / "reader").mkdir()
    out = _python(
        f"""
        import runyard as ry
        print(ry.Client().download_artifacts({run_id!r}, "weights/model.bin", "out"))
        """,
        {**env, "RUNYARD_HOME": str(reader_dir / ".runyard")},
        reader_dir,
    )
    assert (reader_dir / out).read_bytes() == payload
    cas = open_cas(server.url)
    assert [r.size for r in cas.backend.list("blobs")] == [len(payload)]
    assert isinstance(cas.backend, HttpArtifactStore)
    cas.backend.close()
