"""The gRPC front end, driven by the third-party ``tritonclient.grpc`` (raw contents)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as tg
from tritonclient.utils import InferenceServerException

from tests.serving.conftest import Served


def _infer(
    client: tg.InferenceServerClient,
    x: np.ndarray[Any, Any],
    model: str = "digits-mlp",
    version: str = "",
    datatype: str = "FP32",
    name: str = "input",
) -> Any:
    inp = tg.InferInput(name, list(x.shape), datatype)
    inp.set_data_from_numpy(x)
    return client.infer(
        model, [inp], model_version=version, outputs=[tg.InferRequestedOutput("output")]
    )


def test_health_and_metadata_rpcs(server: Served) -> None:
    client = tg.InferenceServerClient(server.grpc_url)
    assert client.is_server_live() and client.is_server_ready()
    meta = client.get_server_metadata(as_json=True)
    assert meta["name"] == "runyard"
    assert client.is_model_ready("digits-mlp") and client.is_model_ready("digits-mlp", "1")
    assert not client.is_model_ready("digits-mlp", "4")
    assert not client.is_model_ready("nope")
    model = client.get_model_metadata("digits-mlp", as_json=True)
    assert model["versions"] == ["1"]
    assert model["inputs"] == [{"name": "input", "datatype": "FP32", "shape": ["-1", "64"]}]
    assert model["outputs"][0]["name"] == "output"


def test_model_infer_with_raw_contents_matches_the_source(
    server: Served, digits: Any, expected: Callable[[Any], Any]
) -> None:
    x, _ = digits
    client = tg.InferenceServerClient(server.grpc_url)
    for version in ("", "1"):
        result = _infer(client, x[:64], version=version)
        np.testing.assert_allclose(
            result.as_numpy("output"), expected(x[:64]), rtol=1e-4, atol=1e-5
        )
        assert result.get_response().model_version == "1"


@pytest.mark.parametrize(
    ("kwargs", "code", "needle"),
    [
        ({"x": np.zeros((2, 10), np.float32)}, "StatusCode.INVALID_ARGUMENT", "must have shape"),
        (
            {"x": np.zeros((2, 64), np.float64), "datatype": "FP64"},
            "StatusCode.INVALID_ARGUMENT",
            "must be FP32",
        ),
        (
            {"x": np.zeros((2, 64), np.float32), "name": "other"},
            "StatusCode.INVALID_ARGUMENT",
            "unknown input",
        ),
        (
            {"x": np.zeros((2, 64), np.float32), "model": "nope"},
            "StatusCode.NOT_FOUND",
            "not served",
        ),
        (
            {"x": np.zeros((2, 64), np.float32), "version": "3"},
            "StatusCode.NOT_FOUND",
            "no version",
        ),
    ],
)
def test_bad_requests_get_status_codes(
    server: Served, kwargs: dict[str, Any], code: str, needle: str
) -> None:
    client = tg.InferenceServerClient(server.grpc_url)
    with pytest.raises(InferenceServerException) as err:
        _infer(client, **kwargs)
    assert err.value.status() == code
    assert needle in err.value.message()
    assert _infer(client, np.zeros((1, 64), np.float32)).as_numpy("output").shape == (1, 10)


def test_metadata_of_unknown_model_is_not_found(server: Served) -> None:
    client = tg.InferenceServerClient(server.grpc_url)
    with pytest.raises(InferenceServerException) as err:
        client.get_model_metadata("nope")
    assert err.value.status() == "StatusCode.NOT_FOUND"


def test_oversized_message_is_refused_and_server_survives(server: Served) -> None:
    client = tg.InferenceServerClient(server.grpc_url)
    with pytest.raises(InferenceServerException) as err:
        _infer(client, np.zeros((6000, 64), np.float32))  # 1.5 MB > the 1 MB limit
    assert err.value.status() == "StatusCode.RESOURCE_EXHAUSTED"
    assert client.is_server_ready()
