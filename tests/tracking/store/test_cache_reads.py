"""Cache lookups on SQLite: always fresh, never in a writer's way, from any thread or process."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from runyard.entities import LifecycleStage
from runyard.tracking.store import TrackingStore, get_store

OpenStore = Callable[[str], TrackingStore]


def _lookup_in_child(uri: str, out: multiprocessing.SimpleQueue) -> None:  # type: ignore[type-arg]
    store = get_store(uri)
    out.put(store.get_cache_entries(["a", "b"]))
    store.close()


def test_lookups_see_every_later_write_and_hold_nothing(
    sqlite_uri: str, tmp_path: Path, open_store: OpenStore
) -> None:
    reader, writer = open_store(sqlite_uri), open_store(sqlite_uri)
    assert reader.get_cache_entries(["a"]) == {}
    writer.put_cache_entries([("a", "1")])
    assert reader.get_cache_entries(["a", "a", "b"]) == {"a": "1"}
    writer.put_cache_entries([("a", "2"), ("b", "3")])
    assert reader.get_cache_entries(["a", "b"]) == {"a": "2", "b": "3"}
    # No snapshot or lock is left behind by the lookups: a full checkpoint can finish.
    other = sqlite3.connect(tmp_path / "store" / "runyard.db")
    busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    other.close()
    assert busy == 0


def test_lookups_from_threads_and_a_forked_child(sqlite_uri: str, open_store: OpenStore) -> None:
    store = open_store(sqlite_uri)
    store.put_cache_entries([("a", "1")])
    assert store.get_cache_entries(["a"]) == {"a": "1"}  # this thread's lookups are set up
    seen: list[dict[str, str]] = []
    threads = [
        threading.Thread(target=lambda: seen.append(store.get_cache_entries(["a", "b"])))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [{"a": "1"}] * 4
    store.put_cache_entries([("b", "2")])
    ctx = multiprocessing.get_context("fork")
    out = ctx.SimpleQueue()
    child = ctx.Process(target=_lookup_in_child, args=(sqlite_uri, out))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert out.get() == {"a": "1", "b": "2"}
    many = [f"k{i}" for i in range(1200)]  # more keys than one query binds
    store.put_cache_entries([(k, k.upper()) for k in many])
    assert store.get_cache_entries(many) == {k: k.upper() for k in many}


def test_an_experiment_looked_up_by_name_is_read_fresh_with_its_tags(
    sqlite_uri: str, open_store: OpenStore
) -> None:
    reader, writer = open_store(sqlite_uri), open_store(sqlite_uri)
    assert reader.get_experiment_by_name("exp") is None
    exp_id = writer.create_experiment("exp", tags={"owner": "ana", "team": "ml"})
    found = reader.get_experiment_by_name("exp")
    assert found is not None and found == writer.get_experiment(exp_id)
    assert dict(found.tags) == {"owner": "ana", "team": "ml"}
    writer.delete_experiment(exp_id)
    deleted = reader.get_experiment_by_name("exp")
    assert deleted is not None and deleted.lifecycle_stage is LifecycleStage.DELETED
    writer.rename_experiment(exp_id, "renamed")
    assert reader.get_experiment_by_name("exp") is None
    assert reader.get_experiment_by_name("renamed") == writer.get_experiment(exp_id)
