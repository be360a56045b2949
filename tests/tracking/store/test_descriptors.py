"""A closed store gives back every file descriptor it opened (SQLite files, PostgreSQL sockets).

A notebook or a service that opens and closes stores over hours must not run out of
descriptors. An engine no store uses stays open among the few most recently used (reopening a
store on it is then cheap); past those, it is disposed and its connections close, including
the ones each thread keeps for cache lookups.
"""

from __future__ import annotations

import os
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from runyard.entities import Metric
from runyard.tracking.store import TrackingStore, get_store
from runyard.tracking.store.sql.engine import IDLE_ENGINES, release_idle_engines

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="counts descriptors in /proc/self/fd"
)


def _open_fds() -> set[str]:
    """This process's open descriptors, as what each one points at."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.add(f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
        except OSError:  # the descriptor listdir itself used, closed already
            pass
    return found


def _use(store: TrackingStore) -> None:
    """Writes, reads and cache lookups, here and from another thread."""
    name = f"fds-{uuid.uuid4().hex}"
    run = store.create_run(store.create_experiment(name))
    store.log_batch(run.run_id, [Metric("loss", 0.5, 0, 0)], params={"lr": "0.1"})
    store.put_cache_entries([("k", "v")])
    assert store.get_cache_entries(["k"]) == {"k": "v"}
    assert store.get_experiment_by_name(name) is not None
    seen: list[dict[str, str]] = []
    other = threading.Thread(target=lambda: seen.append(store.get_cache_entries(["k"])))
    other.start()
    other.join()
    assert seen == [{"k": "v"}]
    assert store.get_run(run.run_id).metrics["loss"].count == 1


def _check_closing_gives_back_every_descriptor(uri: str) -> None:
    before = _open_fds()
    first, second = get_store(uri), get_store(uri)
    _use(first)
    _use(second)
    assert _open_fds() - before, "the stores hold connections while open"
    first.close()
    assert second.get_cache_entries(["k"]) == {"k": "v"}  # the other store still works
    second.close()
    second.close()  # closing twice is harmless
    release_idle_engines()
    assert _open_fds() - before == set()


def test_closing_sqlite_stores_gives_back_every_descriptor(tmp_path: Path) -> None:
    _check_closing_gives_back_every_descriptor(f"sqlite:///{tmp_path / 'fds.db'}")


@pytest.mark.postgres
def test_closing_postgres_stores_gives_back_every_descriptor(
    pg_database_factory: Callable[[], str],
) -> None:
    _check_closing_gives_back_every_descriptor(pg_database_factory())


def test_closed_stores_on_many_databases_keep_a_bounded_number_open(tmp_path: Path) -> None:
    release_idle_engines()
    before = _open_fds()
    paths = [tmp_path / f"db{i}.db" for i in range(IDLE_ENGINES + 3)]
    for path in paths:
        store = get_store(f"sqlite:///{path}")
        _use(store)
        store.close()
    held = {p.name for p in paths if any(str(p) in fd for fd in _open_fds() - before)}
    assert held == {p.name for p in paths[-IDLE_ENGINES:]}  # the most recently closed
    release_idle_engines()
    assert _open_fds() - before == set()


def test_a_store_opened_after_the_last_one_closed_sees_the_data(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'again.db'}"
    store = get_store(uri)
    exp = store.create_experiment("kept")
    store.put_cache_entries([("k", "v")])
    assert store.get_cache_entries(["k"]) == {"k": "v"}
    store.close()
    again = get_store(uri)
    assert again.get_experiment(exp).name == "kept"
    assert again.get_cache_entries(["k"]) == {"k": "v"}
    again.close()


def test_an_in_memory_database_outlives_its_stores() -> None:
    name = f"in-memory-{uuid.uuid4().hex}"
    store = get_store("sqlite:///:memory:")
    exp = store.create_experiment(name)
    store.close()
    again = get_store("sqlite:///:memory:")
    assert again.get_experiment(exp).name == name
    again.close()
