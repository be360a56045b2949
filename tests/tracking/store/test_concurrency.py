"""Several processes log into one store at once and nothing is lost or duplicated."""

import multiprocessing
import uuid
from collections.abc import Callable

import pytest

from runyard.entities import Metric
from runyard.tracking.store import TrackingStore, get_store

PROCESSES = 8
BATCHES = 40
POINTS = 25


def _log(uri: str, worker: int, own_run: str, shared_run: str, retried_run: str) -> None:
    store = get_store(uri)
    for b in range(BATCHES):
        points = [Metric("loss", float(b * POINTS + i), b * POINTS + i, b) for i in range(POINTS)]
        store.log_batch(own_run, points, params={f"p{b}": str(b)}, batch_id=f"own-{b}")
        store.log_batch(shared_run, points[:2], tags={f"w{worker}": str(b)})
        # Every worker "retries" the same batch ids: each must be applied exactly once.
        store.log_batch(retried_run, points[:3], batch_id=f"retry-{b}")


def _run(store: TrackingStore, uri: str) -> None:
    exp = store.create_experiment(f"concurrency-{uuid.uuid4().hex}")
    own = [store.create_run(exp).run_id for _ in range(PROCESSES)]
    shared, retried = store.create_run(exp).run_id, store.create_run(exp).run_id
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_log, args=(uri, w, own[w], shared, retried)) for w in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    for run_id in own:
        series = store.get_metric_history(run_id, "loss")
        assert list(series.steps) == list(range(BATCHES * POINTS))
        run = store.get_run(run_id)
        assert run.metrics["loss"].count == BATCHES * POINTS
        assert len(run.params) == BATCHES
    assert store.get_run(shared).metrics["loss"].count == PROCESSES * BATCHES * 2
    assert len(store.get_metric_history(shared, "loss")) == PROCESSES * BATCHES * 2
    assert len(store.get_run(shared).tags) == PROCESSES
    assert len(store.get_metric_history(retried, "loss")) == BATCHES * 3


def test_eight_processes_log_into_one_sqlite_file(
    sqlite_uri: str, open_store: Callable[[str], TrackingStore]
) -> None:
    _run(open_store(sqlite_uri), sqlite_uri)


@pytest.mark.postgres
def test_eight_processes_log_into_one_postgres_database(
    pg_uri: str, open_store: Callable[[str], TrackingStore]
) -> None:
    _run(open_store(pg_uri), pg_uri)
