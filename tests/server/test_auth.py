"""`runyard server --auth`: bearer tokens from `runyard tokens create`, stored hashed."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import httpx
import pytest
from _ry_servers import CLI

from runyard.errors import StoreError
from runyard.tracking.store.rest import RestTrackingStore


def _tokens(backend: str, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", CLI, "tokens", *args, "--tracking-uri", backend],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return out.stdout.strip()


def test_tokens_scopes_and_revocation(spawn_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "auth.db"
    backend = f"sqlite:///{db}"
    server = spawn_server(backend, "--auth")
    read = _tokens(backend, "create", "--scope", "read", "--name", "dashboards")
    write = _tokens(backend, "create", "--scope", "write")
    assert read.startswith("ry_") and write != read
    # only hashes are stored
    with sqlite3.connect(db) as conn:
        stored = " ".join(str(v) for row in conn.execute("select * from api_tokens") for v in row)
    assert read not in stored and write not in stored and "dashboards" in stored

    url = server.url
    assert httpx.get(f"{url}/health").status_code == 200  # the one open route
    for path in ("/ready", "/metrics", "/api/v1/experiments", "/openapi.json",
                 "/api/2.0/mlflow/experiments/get?experiment_id=0"):  # fmt: skip
        assert httpx.get(url + path).status_code == 401, path
    bad = httpx.get(f"{url}/api/v1/experiments", headers={"Authorization": "Bearer ry_x_nope"})
    assert bad.status_code == 401

    reader = RestTrackingStore(url, token=read, max_retry_s=0)
    writer = RestTrackingStore(url, token=write, max_retry_s=0)
    exp = writer.create_experiment("secured")
    assert reader.get_experiment(exp).name == "secured"
    assert len(reader.search_runs([exp])) == 0  # POST search is a read
    with pytest.raises(StoreError, match="PERMISSION_DENIED"):
        reader.create_run(exp)
    mlflow_write = httpx.post(f"{url}/api/2.0/mlflow/runs/create", json={"experiment_id": exp},
                              headers={"Authorization": f"Bearer {read}"})  # fmt: skip
    assert (mlflow_write.status_code, mlflow_write.json()["error_code"]) == (
        403,
        "PERMISSION_DENIED",
    )
    assert len(writer.search_runs([exp])) == 0  # nothing was written by the refused calls

    token_id = write.split("_")[1]
    assert token_id in _tokens(backend, "ls")
    _tokens(backend, "revoke", token_id)
    import time

    time.sleep(6)  # the server caches token answers for 5 s
    with pytest.raises(StoreError, match="UNAUTHENTICATED"):
        writer.create_run(exp)
    reader.close()
    writer.close()


def test_mlflow_client_with_a_token(spawn_server, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import mlflow
    from mlflow import MlflowClient

    backend = f"sqlite:///{tmp_path / 'auth.db'}"
    server = spawn_server(backend, "--auth")
    token = _tokens(backend, "create", "--scope", "write")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    client = MlflowClient(server.url)
    exp = client.create_experiment("with-token")
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "acc", 0.5)
    assert client.get_run(run.info.run_id).data.metrics == {"acc": 0.5}
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    with pytest.raises(mlflow.exceptions.MlflowException):
        MlflowClient(server.url).get_experiment(exp)
