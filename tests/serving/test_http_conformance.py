"""The REST front end, driven by the third-party ``tritonclient.http`` (JSON tensors)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as th
from tritonclient.utils import InferenceServerException

from tests.serving.conftest import Served


def _infer(
    client: th.InferenceServerClient,
    x: np.ndarray[Any, Any],
    model: str = "digits-mlp",
    version: str = "",
    datatype: str = "FP32",
    name: str = "input",
) -> Any:
    inp = th.InferInput(name, list(x.shape), datatype)
    inp.set_data_from_numpy(x, binary_data=False)
    out = th.InferRequestedOutput("output", binary_data=False)
    return client.infer(model, [inp], model_version=version, outputs=[out])


def test_health_and_metadata_endpoints(server: Served) -> None:
    client = th.InferenceServerClient(server.http_url)
    assert client.is_server_live() and client.is_server_ready()
    meta = client.get_server_metadata()
    assert meta["name"] == "runyard" and "binary_tensor_data" in meta["extensions"]
    assert client.is_model_ready("digits-mlp")
    assert client.is_model_ready("digits-mlp", "1")
    assert not client.is_model_ready("digits-mlp", "7")
    assert not client.is_model_ready("no-such-model")
    model = client.get_model_metadata("digits-mlp")
    assert model["versions"] == ["1"] and model["platform"] == "runyard_onnx"
    assert model["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 64]}]
    assert model["outputs"] == [{"name": "output", "datatype": "FP32", "shape": [-1, 10]}]
    assert client.get_model_metadata("digits-mlp", "1") == model


def test_infer_matches_the_source_model(
    server: Served, digits: Any, expected: Callable[[Any], Any]
) -> None:
    x, y = digits
    client = th.InferenceServerClient(server.http_url)
    for version in ("", "1"):
        result = _infer(client, x[:40], version=version)
        got = result.as_numpy("output")
        np.testing.assert_allclose(got, expected(x[:40]), rtol=1e-4, atol=1e-5)
        assert result.get_response()["model_version"] == "1"
    assert (_infer(client, x[:300]).as_numpy("output").argmax(1) == y[:300]).mean() > 0.9


@pytest.mark.parametrize(
    ("make", "status", "needle"),
    [
        (
            lambda x: {
                "inputs": [
                    {
                        "name": "input",
                        "shape": [2, 63],
                        "datatype": "FP32",
                        "data": x[:2, :63].ravel().tolist(),
                    }
                ]
            },
            400,
            "shape",
        ),
        (
            lambda x: {
                "inputs": [
                    {"name": "input", "shape": [2, 64], "datatype": "INT64", "data": [1] * 128}
                ]
            },
            400,
            "must be FP32",
        ),
        (
            lambda x: {
                "inputs": [
                    {"name": "other", "shape": [1, 64], "datatype": "FP32", "data": [0.0] * 64}
                ]
            },
            400,
            "unknown input",
        ),
        (
            lambda x: {
                "inputs": [
                    {"name": "input", "shape": [2, 64], "datatype": "FP32", "data": [0.0] * 5}
                ]
            },
            400,
            "needs 128 values",
        ),
        (lambda x: {"nothing": []}, 400, "inputs"),
    ],
)
def test_bad_requests_get_400_with_an_error(
    server: Served, digits: Any, make: Callable[[Any], Any], status: int, needle: str
) -> None:
    r = httpx.post(f"http://{server.http_url}/v2/models/digits-mlp/infer", json=make(digits[0]))
    assert r.status_code == status
    assert needle in r.json()["error"]


def test_missing_unknown_oversized_and_garbage(server: Served, digits: Any) -> None:
    base = f"http://{server.http_url}/v2/models"
    one = {"inputs": [{"name": "input", "shape": [1, 64], "datatype": "FP32", "data": [0.0] * 64}]}
    r = httpx.post(f"{base}/nope/infer", json=one)
    assert r.status_code == 404 and "not served" in r.json()["error"]
    r = httpx.post(f"{base}/digits-mlp/versions/9/infer", json=one)
    assert r.status_code == 404 and "no version" in r.json()["error"]
    assert httpx.get(f"{base}/nope").status_code == 404
    huge = {
        "inputs": [
            {"name": "input", "shape": [5000, 64], "datatype": "FP32", "data": [0.5] * (5000 * 64)}
        ]
    }  # > the 1 MB limit this server has
    r = httpx.post(f"{base}/digits-mlp/infer", json=huge)
    assert r.status_code == 413 and "limit" in r.json()["error"]
    r = httpx.post(
        f"{base}/digits-mlp/infer",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400 and "not JSON" in r.json()["error"]
    r = httpx.get(f"{base}/digits-mlp/infer")
    assert r.status_code == 405 and "POST" in r.json()["error"]
    assert httpx.get(f"http://{server.http_url}/v1/models").status_code == 404
    r = httpx.post(
        f"{base}/digits-mlp/infer", content=b"\x1f\x8b", headers={"content-encoding": "gzip"}
    )
    assert r.status_code == 400 and "Content-Encoding" in r.json()["error"]
    # with tritonclient too: the error text reaches the user
    client = th.InferenceServerClient(server.http_url)
    with pytest.raises(InferenceServerException, match="must have shape"):
        _infer(client, digits[0][:2, :10])
    with pytest.raises(InferenceServerException, match="must be FP32"):
        _infer(client, digits[0][:2].astype(np.float64), datatype="FP64")
    with pytest.raises(InferenceServerException, match="not served"):
        _infer(client, digits[0][:2], model="nope")
    # and the server is unharmed
    assert _infer(client, digits[0][:3]).as_numpy("output").shape == (3, 10)


def test_binary_tensor_data_in_and_out(
    server: Served, digits: Any, expected: Callable[[Any], Any]
) -> None:
    x = digits[0][:32]
    client = th.InferenceServerClient(server.http_url)
    for in_binary, out_binary in [(True, True), (True, False), (False, True)]:
        inp = th.InferInput("input", list(x.shape), "FP32")
        inp.set_data_from_numpy(x, binary_data=in_binary)
        out = th.InferRequestedOutput("output", binary_data=out_binary)
        result = client.infer("digits-mlp", [inp], outputs=[out])
        np.testing.assert_allclose(result.as_numpy("output"), expected(x), rtol=1e-4, atol=1e-5)
        params = result.get_output("output").get("parameters", {})
        assert ("binary_data_size" in params) == out_binary
    # no outputs named: tritonclient asks for every output in binary (binary_data_output)
    inp = th.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=True)
    result = client.infer("digits-mlp", [inp], model_version="1")
    np.testing.assert_allclose(result.as_numpy("output"), expected(x), rtol=1e-4, atol=1e-5)


def _binary_post(server: Served, header: bytes, tail: bytes, length: int | None = None) -> Any:
    headers = {"content-type": "application/octet-stream"}
    headers["inference-header-content-length"] = str(len(header) if length is None else length)
    return httpx.post(
        f"http://{server.http_url}/v2/models/digits-mlp/infer",
        content=header + tail,
        headers=headers,
    )


@pytest.mark.parametrize(
    ("size", "tail", "length", "needle"),
    [
        (256, b"\0" * 100, None, "only 100 remain"),  # body shorter than declared
        (256, b"\0" * 300, None, "44 bytes of binary data no input declares"),
        (100, b"\0" * 100, None, "needs 256 bytes"),  # size disagrees with shape
        (256, b"\0" * 256, 10_000, "does not fit"),  # header length past the body
        (256, b"\0" * 256, 0, "does not fit"),
        (-1, b"", None, "non-negative"),
    ],
)
def test_bad_binary_bodies_get_400(
    server: Served, size: int, tail: bytes, length: int | None, needle: str
) -> None:
    header = orjson_dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": [1, 64],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": size},
                }
            ]
        }
    )
    r = _binary_post(server, header, tail, length)
    assert r.status_code == 400, r.text
    assert needle in r.json()["error"]


def test_binary_input_without_the_header_is_refused(server: Served) -> None:
    doc = {
        "inputs": [
            {
                "name": "input",
                "shape": [1, 64],
                "datatype": "FP32",
                "parameters": {"binary_data_size": 256},
            }
        ]
    }
    r = httpx.post(f"http://{server.http_url}/v2/models/digits-mlp/infer", json=doc)
    assert r.status_code == 400 and "Inference-Header-Content-Length" in r.json()["error"]
    r = httpx.post(
        f"http://{server.http_url}/v2/models/digits-mlp/infer",
        content=orjson_dumps(doc) + b"\0" * 256,
        headers={"content-type": "application/octet-stream"},
    )
    assert r.status_code == 400 and "not JSON" in r.json()["error"]


def orjson_dumps(doc: Any) -> bytes:
    import json

    return json.dumps(doc).encode()


def test_metrics_count_requests_and_batches(server: Served, digits: Any) -> None:
    client = th.InferenceServerClient(server.http_url)
    _infer(client, digits[0][:4])
    with pytest.raises(InferenceServerException):
        _infer(client, digits[0][:2, :3])
    text = httpx.get(f"http://{server.http_url}/metrics").text
    ok = 'runyard_inference_requests_total{model="digits-mlp",protocol="http",status="ok"}'
    bad = 'runyard_inference_requests_total{model="digits-mlp",protocol="http",status="invalid"}'
    assert ok in text and bad in text
    assert "runyard_batch_size_bucket" in text
    assert "runyard_queue_duration_seconds_count" in text
    assert "runyard_inference_request_duration_seconds_bucket" in text
