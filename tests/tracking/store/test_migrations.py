"""A database made by an older runyard upgrades to the newest schema without losing data."""

import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from runyard.entities import Metric
from runyard.tracking.store import TrackingStore, get_store
from runyard.tracking.store.sql import migrate
from runyard.tracking.store.sql.engine import get_engine


def _make_db_at_0001(uri: str) -> None:
    engine = get_engine(uri)
    migrate.upgrade(engine, "0001")
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == "0001"
        assert not sa.inspect(conn).has_table("cache_entries")


def _check_upgrade(uri: str, open_store: Callable[[str], TrackingStore]) -> None:
    # An old runyard (schema 0001) logged a run; reopening upgrades the schema in place.
    _make_db_at_0001(uri)
    engine = get_engine(uri)
    # Simulate what runyard at 0001 wrote, with its own SQL (no code from the new store).
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO experiments (experiment_id, name, artifact_location, "
                "lifecycle_stage, creation_time) VALUES (7, 'old', '/a/7', 'active', 1)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO runs (run_id, experiment_id, name, status, start_time, "
                "artifact_uri, lifecycle_stage) VALUES ('r' || :pad, 7, 'legacy', 'FINISHED', 5, "
                "'/a/7/r', 'active')"
            ),
            {"pad": "0" * 31},
        )
        conn.execute(
            sa.text("INSERT INTO params (run_id, key, value) VALUES (:r, 'lr', '0.1')"),
            {"r": "r" + "0" * 31},
        )
    store = open_store(uri)
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision() != "0001"
    run = store.get_run("r" + "0" * 31)
    assert (run.name, dict(run.params)) == ("legacy", {"lr": "0.1"})
    store.log_batch(run.run_id, [Metric("acc", 0.9, 1, 1)])
    assert store.search_runs(["7"], "metrics.acc > 0.5").items[0].run_id == run.run_id
    store.put_cache_entry("k", "v")
    assert store.get_cache_entry("k") == "v"
    assert store.get_experiment("0").name == "Default"


def test_sqlite_database_at_0001_upgrades(
    tmp_path: Path, open_store: Callable[[str], TrackingStore]
) -> None:
    _check_upgrade(f"sqlite:///{tmp_path / 'old.db'}", open_store)


@pytest.mark.postgres
def test_postgres_database_at_0001_upgrades(
    pg_database_factory: Callable[[], str], open_store: Callable[[str], TrackingStore]
) -> None:
    _check_upgrade(pg_database_factory(), open_store)


def _warm_up(_: int) -> None:
    get_store("sqlite://")


def _open_and_create(uri: str, name: str, start_at: float) -> str:
    while time.time() < start_at:  # every process opens the new database in the same moment
        pass
    store = get_store(uri)
    return store.create_experiment(name)


@pytest.mark.parametrize("round_", range(3))
def test_many_processes_open_a_fresh_database_at_once(
    tmp_path: Path, round_: int, open_store: Callable[[str], TrackingStore]
) -> None:
    uri = f"sqlite:///{tmp_path / 'fresh' / 'shared.db'}"
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        pool.map(_warm_up, range(4))  # spawned, imported, migrations read: before the clock
        start_at = time.time() + 0.5
        ids = pool.starmap(_open_and_create, [(uri, f"e{i}", start_at) for i in range(4)])
    store = open_store(uri)
    assert sorted(ids) == ["1", "2", "3", "4"]
    names = sorted(e.name for e in store.search_experiments())
    assert names == ["Default", "e0", "e1", "e2", "e3"]
