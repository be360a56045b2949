"""The REST store passes the tracking store conformance suite, unchanged.

Once against the app served in-process, and once against a real `runyard server` process
on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from runyard.testing.tracking_store import TrackingStoreSuite
from runyard.tracking.store import TrackingStore, get_store
from runyard.tracking.store.rest import RestTrackingStore


class TestRestStoreInProcess(TrackingStoreSuite):
    __test__ = True

    @pytest.fixture
    def store(self, app_server: object) -> Iterator[TrackingStore]:
        s = get_store(app_server.url)  # type: ignore[attr-defined]
        assert isinstance(s, RestTrackingStore)
        yield s
        s.close()


@pytest.fixture(scope="module")
def pg_server_url(
    pg_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    import os
    import signal
    import subprocess
    import sys

    from _ry_servers import CLI, free_port, wait_healthy

    root = tmp_path_factory.mktemp("pgserver")
    port = free_port()
    args = ["server", "--backend-store-uri", pg_database(), "--artifact-uri", str(root / "a"),
            "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, *args],
        env={**os.environ, "RUNYARD_HOME": str(root / "home")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc=proc)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.postgres
class TestRestStoreRealServerOnPostgres(TrackingStoreSuite):
    __test__ = True

    @pytest.fixture
    def store(self, pg_server_url: str) -> Iterator[TrackingStore]:
        s = get_store(pg_server_url)
        yield s
        s.close()
