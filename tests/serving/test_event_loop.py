"""The server's event loop: uvloop when installed; asyncio's own with RUNYARD_SERVE_UVLOOP=0
or ``runyard serve --no-uvloop``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.grpc as tg
import tritonclient.http as th

from tests.serving.conftest import Registry, start_server


@pytest.mark.parametrize(
    ("setting", "flags", "loop"),
    [("1", (), "uvloop"), ("0", (), "asyncio"), ("1", ("--no-uvloop",), "asyncio")],
)
def test_both_event_loops_serve_http_and_grpc(
    registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    digits: Any,
    expected: Callable[[Any], Any],
    setting: str,
    flags: tuple[str, ...],
    loop: str,
) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop")
    monkeypatch.setenv("RUNYARD_SERVE_UVLOOP", setting)
    served = start_server(registry, ["models:/digits-mlp@champion"], tmp_path, *flags)
    try:
        x = digits[0][:5]
        want = expected(x)
        for binary in (False, True):
            inp = th.InferInput("input", list(x.shape), "FP32")
            inp.set_data_from_numpy(x, binary_data=binary)
            out = th.InferRequestedOutput("output", binary_data=binary)
            got = th.InferenceServerClient(served.http_url).infer(
                "digits-mlp", [inp], outputs=[out]
            )
            np.testing.assert_allclose(got.as_numpy("output"), want, rtol=1e-4, atol=1e-5)
        g = tg.InferInput("input", list(x.shape), "FP32")
        g.set_data_from_numpy(x)
        got_grpc = tg.InferenceServerClient(served.grpc_url).infer("digits-mlp", [g])
        np.testing.assert_allclose(got_grpc.as_numpy("output"), want, rtol=1e-4, atol=1e-5)
        bad = httpx.post(f"http://{served.http_url}/v2/models/digits-mlp/infer", content=b"{")
        assert bad.status_code == 400 and "not JSON" in bad.json()["error"]
    finally:
        assert served.stop() == 0
    assert f"(event loop: {loop})" in served.log.read_text()
