"""Hot reload when an alias moves, several models, and graceful shutdown."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from runyard.registry import set_alias
from tests.serving.conftest import Registry, start_server
from tests.serving.pymodels import Constant

ONE = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [0.0] * 4}]}


def _wait_pending(url: str, model: str, n: int, timeout: float = 20.0) -> None:
    """Block until the server's pending-requests gauge for ``model`` reads ``n``."""
    line = f'runyard_inference_pending_requests{{model="{model}"}} {float(n)}'
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if line in httpx.get(f"http://{url}/metrics", timeout=5).text:
            return
        time.sleep(0.02)
    raise AssertionError(f"{n} requests to {model!r} never were in flight at once")


def _post(url: str, model: str) -> httpx.Response:
    return httpx.post(f"http://{url}/v2/models/{model}/infer", json=ONE, timeout=30)


def test_alias_move_is_picked_up_with_no_failed_request(tmp_path: Path, digits: Any) -> None:
    reg = Registry(tmp_path / "reg")
    example = np.zeros((2, 4), np.float32)
    reg.publish("const", Constant(1.0), example)
    reg.publish("other", Constant(7.0), example)
    served = start_server(
        reg,
        ["models:/const@champion", "second=models:/other/1"],
        tmp_path,
        "--poll-interval",
        "0.2",
    )
    try:
        stop = threading.Event()
        answers: list[tuple[int, str, float]] = []

        def hammer() -> None:
            with httpx.Client(timeout=30) as c:
                while not stop.is_set():
                    r = c.post(f"http://{served.http_url}/v2/models/const/infer", json=ONE)
                    body = r.json()
                    answers.append(
                        (
                            r.status_code,
                            body.get("model_version", ""),
                            body["outputs"][0]["data"][0] if r.status_code == 200 else 0,
                        )
                    )

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        with __import__("runyard").start_run(
            experiment="serving", tracking_uri=reg.tracking_uri, artifact_uri=reg.artifact_uri
        ) as run:
            from runyard.registry import log_model, register_model

            log_model(run, Constant(2.0), "model", input_example=example)
        v2 = register_model("const", run=run, client=reg.client())
        set_alias("const", "champion", v2.version, client=reg.client())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(a[1] == "2" for a in answers[-5:]):
            time.sleep(0.1)
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        assert all(code == 200 for code, _, _ in answers), {a[0] for a in answers}
        versions = [v for _, v, _ in answers]
        assert versions[0] == "1" and versions[-1] == "2"
        assert {(v, x) for _, v, x in answers} == {("1", 1.0), ("2", 2.0)}
        # the second model is served beside it, under its own name
        assert _post(served.http_url, "second").json()["outputs"][0]["data"] == [7.0]
        metrics = httpx.get(f"http://{served.http_url}/metrics").text
        assert 'runyard_model_reloads_total{model="const"} 1.0' in metrics
    finally:
        assert served.stop() == 0


def test_sigterm_drains_in_flight_requests(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "reg")
    reg.publish("slow", Constant(3.0, delay=0.5), np.zeros((2, 4), np.float32))
    served = start_server(reg, ["models:/slow@champion"], tmp_path, "--max-batch-size", "1")
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(_post, served.http_url, "slow") for _ in range(4)]
        _wait_pending(served.http_url, "slow", 4)  # the model answers one per 0.5 s
        code = served.stop()
        responses = [f.result() for f in futures]
    assert code == 0
    assert [r.status_code for r in responses] == [200] * 4
    assert all(r.json()["outputs"][0]["data"] == [3.0] for r in responses)
    try:
        httpx.get(f"http://{served.http_url}/v2/health/live", timeout=2)
        refused = False
    except httpx.HTTPError:
        refused = True
    assert refused
