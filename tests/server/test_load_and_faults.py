"""Load and fault tests on loopback, bounded in count: every point arrives exactly once."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from runyard.entities import Metric
from runyard.tracking.store.rest import RestTrackingStore

pytestmark = pytest.mark.slow


def _new_experiment(url: str, name: str) -> str:
    store = RestTrackingStore(url)
    try:
        return store.create_experiment(name)
    finally:
        store.close()


def _ingest(url: str, exp: str, client: int, batches: int, per_batch: int,
            progress: list[int] | None = None) -> str:  # fmt: skip
    store = RestTrackingStore(url, max_retry_s=90)
    run = store.create_run(exp, name=f"client-{client}")
    for b in range(batches):
        points = [Metric("x", float(b * per_batch + i), b * per_batch + i, i)
                  for i in range(per_batch)]  # fmt: skip
        store.log_batch(run.run_id, points, batch_id=f"c{client}-b{b}")
        if progress is not None:
            progress[client] = b + 1
    store.update_run(run.run_id, status="FINISHED")  # type: ignore[arg-type]
    store.close()
    return run.run_id


def _assert_exactly_once(url: str, run_ids: list[str], total: int) -> None:
    store = RestTrackingStore(url)
    for series in store.get_metric_histories(run_ids, "x"):
        assert sorted(series.steps) == list(range(total)), series.run_id
    store.close()


def test_32_concurrent_clients_every_point_once(spawn_server) -> None:  # type: ignore[no-untyped-def]
    server = spawn_server()
    exp = _new_experiment(server.url, "load")
    with ThreadPoolExecutor(32) as pool:
        ids = list(pool.map(lambda c: _ingest(server.url, exp, c, 10, 100), range(32)))
    _assert_exactly_once(server.url, ids, 1000)


def test_server_killed_mid_ingest_and_restarted(spawn_server) -> None:  # type: ignore[no-untyped-def]
    server = spawn_server()
    exp = _new_experiment(server.url, "faults")
    clients, batches = 8, 40
    progress = [0] * clients
    with ThreadPoolExecutor(clients) as pool:
        futures = [
            pool.submit(_ingest, server.url, exp, c, batches, 200, progress) for c in range(clients)
        ]
        deadline = time.monotonic() + 120
        # every client has created its run (create_run is not idempotent, so it is not
        # retried after a lost answer) and a quarter of the points are in
        while (min(progress) < 1 or sum(progress) < clients * batches // 4) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.02)
        assert 0 < sum(progress) < clients * batches, "the kill must land mid-ingest"
        server.restart()  # SIGKILL, then the same command on the same port
        ids = [f.result(timeout=300) for f in futures]
    _assert_exactly_once(server.url, ids, batches * 200)


@pytest.mark.postgres
def test_several_workers_on_one_postgres_behave_as_one_server(spawn_server, pg_database) -> None:  # type: ignore[no-untyped-def]
    server = spawn_server(pg_database(), workers=3)
    store = RestTrackingStore(server.url)
    exp = store.create_experiment("workers")
    with ThreadPoolExecutor(12) as pool:
        ids = list(pool.map(lambda c: _ingest(server.url, exp, c, 10, 100), range(12)))
    _assert_exactly_once(server.url, ids, 1000)
    # every worker sees every write: reads spread over fresh connections agree
    seen = set()
    for _ in range(20):
        fresh = RestTrackingStore(server.url)
        seen.add(len(fresh.search_runs([exp])))
        fresh.close()
    assert seen == {12}
    # one name is unique across workers racing to create it
    results: list[str] = []
    errors: list[Exception] = []

    def create() -> None:
        try:
            results.append(_new_experiment(server.url, "raced"))
        except Exception as e:  # noqa: BLE001 - collected and checked below
            errors.append(e)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1 and len(errors) == 5
    assert all(type(e).__name__ == "AlreadyExists" for e in errors)
    store.close()
    server.stop(signal.SIGTERM)
