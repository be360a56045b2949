"""The native HTTP API as a user meets it: bad input is refused with 4xx and loses nothing."""

from __future__ import annotations

import io
import os
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from runyard.entities import Metric
from runyard.tracking.store import get_store


def _code(r: httpx.Response) -> str:
    return str(r.json()["error"]["code"])


def test_malformed_and_mistyped_bodies_are_400_and_write_nothing(
    http: httpx.Client, run_id: str
) -> None:
    bad = http.post(f"/api/v1/runs/{run_id}/batch", content=b"{not json",
                    headers={"content-type": "application/json"})  # fmt: skip
    assert (bad.status_code, _code(bad)) == (400, "INVALID_ARGUMENT")
    cols = {"key": ["m"], "value": ["high"], "step": [0], "timestamp": [0]}
    wrong = http.post(f"/api/v1/runs/{run_id}/batch", json={"metrics": cols})
    assert wrong.status_code == 400 and "value" in wrong.json()["error"]["message"]
    cols = {"key": ["m", "n"], "value": [1.0], "step": [0], "timestamp": [0]}
    ragged = http.post(f"/api/v1/runs/{run_id}/batch", json={"metrics": cols})
    assert ragged.status_code == 400
    assert http.get(f"/api/v1/runs/{run_id}").json()["metrics"] == {}


def test_errors_carry_the_runyard_code(http: httpx.Client, run_id: str) -> None:
    assert _code(http.get("/api/v1/runs/" + "0" * 32)) == "NOT_FOUND"
    name = f"exp-{run_id}"
    assert http.post("/api/v1/experiments", json={"name": name}).status_code == 201
    dup = http.post("/api/v1/experiments", json={"name": name})
    assert (dup.status_code, _code(dup)) == (409, "ALREADY_EXISTS")
    bad = http.post("/api/v1/runs/search", json={"experiment_ids": ["0"], "filter": "metrics.a >"})
    assert (bad.status_code, _code(bad)) == (400, "INVALID_FILTER")
    assert bad.json()["error"]["details"]["position"] == 11
    http.post(f"/api/v1/runs/{run_id}/batch", json={"params": {"lr": "0.1"}})
    conflict = http.post(f"/api/v1/runs/{run_id}/batch", json={"params": {"lr": "0.2"}})
    assert (conflict.status_code, _code(conflict)) == (400, "PARAM_CONFLICT")


def test_unknown_routes_and_methods(http: httpx.Client) -> None:
    assert http.get("/api/v1/nothing-here").status_code == 404
    assert http.get("/api/2.0/mlflow/nothing").json()["error_code"] == "ENDPOINT_NOT_FOUND"
    assert http.put("/api/v1/runs/search").status_code == 405


def test_oversized_body_is_413_and_writes_nothing(http: httpx.Client, run_id: str) -> None:
    huge = {"params": {f"p{i}": "x" * 1000 for i in range(2000)}}  # ~2 MB > the 1 MiB limit
    r = http.post(f"/api/v1/runs/{run_id}/batch", json=huge)
    assert (r.status_code, _code(r)) == (413, "PAYLOAD_TOO_LARGE")

    def chunked():  # no content-length: the limit is enforced while reading
        for _ in range(40):
            yield b"x" * 65536

    r = http.post(f"/api/v1/runs/{run_id}/batch", content=chunked())
    assert r.status_code == 413
    assert http.get(f"/api/v1/runs/{run_id}").json()["params"] == {}


@pytest.mark.parametrize(
    "path",
    [
        "../outside.txt",
        "a/../../outside.txt",
        "%2e%2e/outside.txt",
        "%252e%252e%252foutside.txt",
        "..%2foutside.txt",
        "..%5coutside.txt",
        "%2fetc%2fpasswd",
        "a/%00/b",
        "%EF%BC%8E%EF%BC%8E/outside.txt",
    ],
)
def test_path_traversal_is_refused(http: httpx.Client, artifact_root: Path, path: str) -> None:
    outside = artifact_root.parent / "outside.txt"
    for method in ("PUT", "GET", "DELETE"):
        for prefix in ("/api/v1/artifacts/", "/api/2.0/mlflow-artifacts/artifacts/"):
            r = http.request(method, prefix + path, content=b"evil" if method == "PUT" else None)
            assert 400 <= r.status_code < 500, (method, prefix, path, r.status_code)
    assert not outside.exists()
    listing = http.get("/api/2.0/mlflow-artifacts/artifacts", params={"path": "../"})
    assert listing.status_code == 400


def test_symlink_out_of_the_root_is_refused(
    http: httpx.Client, artifact_root: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    artifact_root.mkdir(parents=True, exist_ok=True)
    os.symlink(tmp_path, artifact_root / "link")
    r = http.get("/api/v1/artifacts/link/secret.txt")
    assert 400 <= r.status_code < 500 and b"top secret" not in r.content
    assert http.put("/api/v1/artifacts/link/new.txt", content=b"x").status_code == 400
    assert not (tmp_path / "new.txt").exists()


def test_streamed_upload_download_list_delete(http: httpx.Client) -> None:
    size = 24 * 1024 * 1024 + 7  # larger than the JSON limit: uploads are streamed

    def body():
        block = bytes(range(256)) * 4096
        sent = 0
        while sent < size:
            chunk = block[: min(len(block), size - sent)]
            sent += len(chunk)
            yield chunk

    up = http.put("/api/v1/artifacts/big/blob.bin", content=body())
    assert up.status_code == 201 and up.json() == {"path": "big/blob.bin", "size": size}
    total = 0
    with http.stream("GET", "/api/v1/artifacts/big/blob.bin") as r:
        assert r.headers["content-length"] == str(size)
        for chunk in r.iter_bytes():
            total += len(chunk)
    assert total == size
    assert http.get("/api/v1/artifacts", params={"prefix": "big"}).json() == {
        "files": [{"path": "big/blob.bin", "size": size}]
    }
    deleted = http.delete("/api/v1/artifacts/big")
    assert (deleted.status_code, deleted.json()) == (200, {"deleted": 1})
    assert http.get("/api/v1/artifacts/big/blob.bin").status_code == 404


def test_histories_downsampled_and_as_arrow(http: httpx.Client, app_server) -> None:  # type: ignore[no-untyped-def]
    store = get_store(app_server.url)
    runs = [store.create_run("0") for _ in range(3)]
    for i, run in enumerate(runs):
        points = [Metric("loss", float(s % 97) if s != 5000 else 1e6, s, s) for s in range(10_000)]
        store.log_batch(run.run_id, points[: 10_000 - i])
    ids = [r.run_id for r in runs]
    body = {"run_ids": ids, "key": "loss", "max_points": 200}
    series = http.post("/api/v1/metrics/histories", json=body).json()["series"]
    assert [s["run_id"] for s in series] == ids
    assert all(len(s["step"]) <= 200 for s in series)
    assert all(1e6 in s["value"] and s["step"][0] == 0 for s in series)  # spikes survive
    arrow = http.post("/api/v1/metrics/histories", json={**body, "format": "arrow"})
    table = pa.ipc.open_stream(io.BytesIO(arrow.content)).read_all()
    assert table.num_rows == sum(len(s["step"]) for s in series)
    full = store.get_metric_histories(ids, "loss")
    assert [len(s) for s in full] == [10_000, 9_999, 9_998]
    export = http.post("/api/v1/runs/export", json={"experiment_ids": ["0"], "max_results": 5})
    runs_table = pa.ipc.open_stream(io.BytesIO(export.content)).read_all()
    assert runs_table.num_rows == 5 and "metrics.loss" in runs_table.column_names
    store.close()


def test_health_ready_and_prometheus_metrics(http: httpx.Client, run_id: str) -> None:
    assert http.get("/health").json() == {"status": "ok"}
    assert http.get("/ready").json() == {"status": "ready"}
    cols = {"key": ["m"] * 5, "value": [1.0] * 5, "step": list(range(5)), "timestamp": [0] * 5}
    http.post(f"/api/v1/runs/{run_id}/batch", json={"metrics": cols})
    text = http.get("/metrics").text
    assert 'route="/api/v1/runs/{run_id}/batch",status="204"' in text
    assert "runyard_http_request_duration_seconds_bucket" in text
    assert "runyard_ingested_points_total" in text
