"""The same pipeline, cache and `why` on PostgreSQL — the store a team shares."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import runyard.pipelines as ry
from runyard.artifacts import open_cas
from runyard.pipelines import StepStatus
from runyard.pipelines.why import explain
from runyard.tracking.store import TrackingStore, get_store

pytestmark = pytest.mark.postgres
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


@pytest.fixture
def pg_store() -> Iterator[TrackingStore]:
    admin = sa.create_engine(f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as e:
        admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is unreachable: {e.orig}")
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is unreachable: {e.orig}")
    name = f"runyard_pipelines_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    store = get_store(f"postgresql://postgres@127.0.0.1:5432/{name}")
    try:
        yield store
    finally:
        store.close()
        from runyard.tracking.store.sql import engine as engines

        for engine in list(engines._engines.values()):
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@ry.step
def load(n: int) -> list[int]:
    return list(range(n))


@ry.step
def train(data: list[int], lr: float) -> float:
    return sum(data) * lr


@ry.pipeline
def digits(n: int = 4, lrs: list[float] = [0.5, 1.0]):  # noqa: B006
    return train.map(data=ry.unmapped(load(n)), lr=lrs)


def test_process_pool_pipeline_on_postgres(pg_store: TrackingStore, tmp_path: Path) -> None:
    cas = open_cas(str(tmp_path / "artifacts"))
    first = digits.run(n=4, executor="process:2", store=pg_store, artifacts=cas)
    again = digits.run(n=4, lrs=[0.5, 2.0], executor="process:2", store=pg_store, artifacts=cas)
    assert first.value == [3.0, 6.0] and again.value == [3.0, 12.0]
    assert [s.status for s in again.step("train")] == [StepStatus.CACHED, StepStatus.FINISHED]
    (why,) = explain(pg_store, again.run_id, "train[1]")
    assert why.lines()[1] == "  - param 'lr' changed: 1.0 -> 2.0"
