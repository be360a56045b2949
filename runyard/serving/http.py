"""The Open Inference Protocol (KServe V2) over HTTP/REST, plus Prometheus ``/metrics``.

Endpoints: ``GET /v2``, ``/v2/health/live``, ``/v2/health/ready``,
``/v2/models/{m}[/versions/{v}]``, ``.../ready``, ``POST .../infer`` and ``GET /metrics``.
Tensor data is JSON (the binary-data extension is not advertised). Errors are
``{"error": "..."}`` with 400 (bad input), 404 (unknown model or version), 413 (too
large) or 500 (the model failed); no request can take the server down.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from runyard.errors import InvalidArgument
from runyard.serving.codec import decode_json_input, encode_json_output
from runyard.serving.metrics import CONTENT_TYPE
from runyard.serving.protocol import (
    Inference,
    RequestTooLarge,
    model_metadata,
    server_metadata,
    status_of,
)

__all__ = ["create_http_app"]

_JSON = "application/json"


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=_JSON)


def _error(e: BaseException) -> Response:
    status, _ = status_of(e)
    return _json({"error": str(e) or type(e).__name__}, status)


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"request body of {declared} bytes exceeds the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes) -> tuple[list[Any], list[str], Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise InvalidArgument(f"request body is not JSON: {e}") from e
    if not isinstance(doc, dict):
        raise InvalidArgument("request body must be a JSON object with 'inputs'")
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidArgument("request needs a non-empty 'inputs' list")
    outputs = doc.get("outputs") or []
    if not isinstance(outputs, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
    ):
        raise InvalidArgument("'outputs' must be a list of objects with a name")
    return inputs, [o["name"] for o in outputs], doc.get("id")


def create_http_app(inference: Inference) -> FastAPI:
    """The REST app for a pool of models.

    Example:
        >>> app = create_http_app(inference)  # doctest: +SKIP
        >>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    app = FastAPI(title="runyard serving", docs_url=None, redoc_url=None, openapi_url=None)
    pool = inference.pool
    limit = inference.limits.max_request_bytes

    @app.get("/v2")
    async def metadata() -> Response:
        return _json(server_metadata())

    @app.get("/v2/health/live")
    async def live() -> Response:
        return _json({"live": True})

    @app.get("/v2/health/ready")
    async def ready() -> Response:
        return _json({"ready": pool.ready}, 200 if pool.ready else 503)

    async def model_meta(name: str, version: str | None) -> Response:
        try:
            return _json(model_metadata(pool.get(name, version)))
        except Exception as e:  # noqa: BLE001 - every failure becomes an error body
            return _error(e)

    async def model_ready(name: str, version: str | None) -> Response:
        try:
            served = pool.get(name, version)
        except Exception as e:  # noqa: BLE001
            return _error(e)
        return _json({"name": served.name, "ready": True})

    async def infer(name: str, version: str | None, request: Request) -> Response:
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            raw_inputs, requested, req_id = _parse(await _body(request, limit))
            tensors = [decode_json_input(t) for t in raw_inputs]
            served, out = await inference.run(name, version, tensors, requested)
            body: dict[str, Any] = {
                "model_name": served.name,
                "model_version": served.version,
                "outputs": [encode_json_output(k, v) for k, v in out.items()],
            }
            if req_id is not None:
                body["id"] = req_id
            return _json(body)
        except Exception as e:  # noqa: BLE001 - the server answers every request
            error = e
            return _error(e)
        finally:
            inference.record(name, "http", error, started)

    @app.get("/v2/models/{name}")
    async def get_model(name: str) -> Response:
        return await model_meta(name, None)

    @app.get("/v2/models/{name}/versions/{version}")
    async def get_model_version(name: str, version: str) -> Response:
        return await model_meta(name, version)

    @app.get("/v2/models/{name}/ready")
    async def get_model_ready(name: str) -> Response:
        return await model_ready(name, None)

    @app.get("/v2/models/{name}/versions/{version}/ready")
    async def get_model_version_ready(name: str, version: str) -> Response:
        return await model_ready(name, version)

    @app.post("/v2/models/{name}/infer")
    async def post_infer(name: str, request: Request) -> Response:
        return await infer(name, None, request)

    @app.post("/v2/models/{name}/versions/{version}/infer")
    async def post_infer_version(name: str, version: str, request: Request) -> Response:
        return await infer(name, version, request)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(inference.metrics.render(), media_type=CONTENT_TYPE)

    return app
