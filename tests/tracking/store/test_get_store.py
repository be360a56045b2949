"""get_store opens the right store from a URI, the environment or the embedded default."""

from collections.abc import Callable
from pathlib import Path

import pytest

from runyard.entities import Metric
from runyard.errors import InvalidArgument, StoreUnavailable
from runyard.tracking.store import TrackingStore, get_store
from runyard.tracking.store.sql.engine import normalize_url


def test_default_store_lives_in_runyard_home(
    runyard_home: Path, open_store: Callable[..., TrackingStore]
) -> None:
    store = open_store()
    exp = store.create_experiment("demo")
    assert (runyard_home / "runyard.db").is_file()
    assert store.get_experiment(exp).artifact_location == str(runyard_home / "artifacts" / exp)


def test_env_var_and_missing_parent_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_store: Callable[..., TrackingStore]
) -> None:
    db = tmp_path / "deep" / "er" / "t.db"
    monkeypatch.setenv("RUNYARD_TRACKING_URI", f"sqlite:///{db}")
    store = open_store()
    run = store.create_run("0")
    store.log_batch(run.run_id, [Metric("m", 1.0, 0, 0)])
    assert db.is_file()
    assert open_store(f"sqlite:///{db}").get_run(run.run_id).metrics["m"].count == 1


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("ftp://somewhere", "unknown tracking URI scheme"),
        ("mysql://root@127.0.0.1/db", "expected sqlite://, postgresql://"),
    ],
)
def test_unsupported_uris(uri: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        get_store(uri)


def test_postgres_uris_use_psycopg3() -> None:
    assert normalize_url("postgresql://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"
    assert normalize_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"


def test_unreachable_postgres_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable) as info:
        get_store("postgresql://postgres@127.0.0.1:1/nothing")
    assert info.value.__cause__ is not None
