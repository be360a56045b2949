"""The fast ingest paths (Arrow body, MLflow log-batch as columns) store what a client sent.

Every path must land the same points as the plain ``log_batch`` and refuse bad input with
4xx without writing anything.
"""

from __future__ import annotations

import math

import httpx
import numpy as np
import pyarrow as pa
import pytest

from runyard.entities import Metric
from runyard.tracking.store import get_store
from runyard.wire.arrow_batch import ARROW_STREAM, arrow_body


def _post_arrow(http: httpx.Client, run_id: str, body: bytes) -> httpx.Response:
    return http.post(
        f"/api/v1/runs/{run_id}/batch/arrow", content=body, headers={"content-type": ARROW_STREAM}
    )


def test_arrow_batch_lands_every_point_once_with_params_and_tags(
    http: httpx.Client, run_id: str
) -> None:
    keys = ["a", "b"] * 50
    values = [float(i) if i != 7 else math.nan for i in range(100)]
    body = arrow_body(keys, values, range(100), [5] * 100, {"lr": "0.1"}, {"t": "x"}, "b-1")
    assert _post_arrow(http, run_id, body).status_code == 204
    assert _post_arrow(http, run_id, body).status_code == 204  # same batch id: applied once
    run = http.get(f"/api/v1/runs/{run_id}").json()
    assert run["params"] == {"lr": "0.1"} and run["tags"]["t"] == "x"
    assert run["metrics"]["a"]["count"] == 50 and run["metrics"]["b"]["count"] == 50
    a = http.get(f"/api/v1/runs/{run_id}/metrics/history", params={"key": "b"}).json()
    assert a["step"] == list(range(1, 100, 2)) and a["value"][3] == "NaN"


def test_rest_store_logs_through_arrow_and_refuses_bad_points(app_server) -> None:  # type: ignore[no-untyped-def]
    store = get_store(app_server.url)
    run = store.create_run("0")
    points = [Metric("m", v, s, 1) for s, v in enumerate([1, 2.5, "3.5", np.float32(4.0)])]
    store.log_batch(run.run_id, points)  # ints, numeric strings and numpy scalars as before
    assert list(store.get_metric_history(run.run_id, "m").values) == [1.0, 2.5, 3.5, 4.0]
    from runyard.errors import InvalidArgument

    for bad in (Metric("m", "high", 0, 0), Metric("m", 1.0, 1.5, 0), Metric("m", 1.0, True, 0),
                Metric("m", 1.0, 2**63, 0), Metric(7, 1.0, 0, 0)):  # type: ignore[arg-type]  # fmt: skip
        with pytest.raises(InvalidArgument):
            store.log_batch(run.run_id, [bad])
    assert len(store.get_metric_history(run.run_id, "m")) == 4
    store.close()


def _table_body(columns: dict[str, pa.Array], metadata: dict[bytes, bytes] | None = None) -> bytes:
    table = pa.table(columns).replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


@pytest.mark.parametrize(
    "body",
    [
        b"not arrow at all",
        b"",
        _table_body({"key": pa.array(["m"]), "value": pa.array([1.0])}),  # no step column
        _table_body(
            {
                "key": pa.array(["m"]),
                "value": pa.array([1]),
                "step": pa.array([0]),
                "timestamp": pa.array([0]),
            }
        ),  # value is int64  # fmt: skip
        _table_body(
            {
                "key": pa.array([1]),
                "value": pa.array([1.0]),
                "step": pa.array([0]),
                "timestamp": pa.array([0]),
            }
        ),  # key is not a string  # fmt: skip
        _table_body(
            {
                "key": pa.array(["m", None]),
                "value": pa.array([1.0, 2.0]),
                "step": pa.array([0, 1]),
                "timestamp": pa.array([0, 0]),
            }
        ),  # fmt: skip
        _table_body(
            {
                "key": pa.array([""]),
                "value": pa.array([1.0]),
                "step": pa.array([0]),
                "timestamp": pa.array([0]),
            }
        ),  # empty key  # fmt: skip
        _table_body(
            {
                "key": pa.array(["m"]),
                "value": pa.array([1.0]),
                "step": pa.array([0]),
                "timestamp": pa.array([0]),
            },
            {b"runyard.batch": b"{oops"},
        ),  # fmt: skip
        _table_body(
            {
                "key": pa.array(["m"]),
                "value": pa.array([1.0]),
                "step": pa.array([0]),
                "timestamp": pa.array([0]),
            },
            {b"runyard.batch": b'{"params": {"p": 1}}'},
        ),  # fmt: skip
    ],
)
def test_bad_arrow_bodies_are_400_and_write_nothing(
    http: httpx.Client, run_id: str, body: bytes
) -> None:
    r = _post_arrow(http, run_id, body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "INVALID_ARGUMENT"
    assert http.get(f"/api/v1/runs/{run_id}").json()["metrics"] == {}


def test_arrow_batch_for_a_missing_run_is_404(http: httpx.Client) -> None:
    r = _post_arrow(http, "0" * 32, arrow_body(["m"], [1.0], [0], [0]))
    assert r.status_code == 404


def _mlflow_batch(http: httpx.Client, run_id: str, metrics: list[object]) -> httpx.Response:
    return http.post("/api/2.0/mlflow/runs/log-batch", json={"run_id": run_id, "metrics": metrics})


def test_mlflow_log_batch_plain_and_mixed_metrics_land_the_same(
    http: httpx.Client, run_id: str
) -> None:
    plain = [{"key": "p", "value": i * 0.5, "timestamp": 10, "step": i} for i in range(5)]
    mixed = [{"key": "q", "value": str(i * 0.5), "timestamp": str(10), "step": str(i)}
             for i in range(4)] + [{"key": "q", "value": "NaN", "timestamp": 10}]  # fmt: skip
    assert _mlflow_batch(http, run_id, plain).status_code == 200
    assert _mlflow_batch(http, run_id, mixed).status_code == 200
    p = http.get(f"/api/v1/runs/{run_id}/metrics/history", params={"key": "p"}).json()
    q = http.get(f"/api/v1/runs/{run_id}/metrics/history", params={"key": "q"}).json()
    assert p["value"] == [0.0, 0.5, 1.0, 1.5, 2.0] and p["step"] == [0, 1, 2, 3, 4]
    assert q["value"][:4] == p["value"][:4] and q["value"][4] == "NaN" and q["step"][4] == 0


@pytest.mark.parametrize(
    "metric",
    [
        {"key": "m", "value": None, "timestamp": 0, "step": 0},
        {"key": "m", "value": "high", "timestamp": 0, "step": 0},
        {"key": "m", "value": 1.0, "timestamp": 0, "step": 1.5},
        {"key": "m", "value": 1.0, "timestamp": 0, "step": True},
        {"key": "m", "value": 1.0, "timestamp": 0, "step": 2**64},
        {"key": "", "value": 1.0, "timestamp": 0, "step": 0},
        "not an object",
    ],
)
def test_mlflow_log_batch_refuses_bad_metrics_and_writes_nothing(
    http: httpx.Client, run_id: str, metric: object
) -> None:
    good = {"key": "m", "value": 1.0, "timestamp": 0, "step": 0}
    r = _mlflow_batch(http, run_id, [good, metric])
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert http.get(f"/api/v1/runs/{run_id}").json()["metrics"] == {}
