"""The Open Inference Protocol (KServe V2) over HTTP/REST, plus Prometheus ``/metrics``.

Endpoints: ``GET /v2``, ``/v2/health/live``, ``/v2/health/ready``,
``/v2/models/{m}[/versions/{v}]``, ``.../ready``, ``POST .../infer`` and ``GET /metrics``.
Tensor data is JSON, or raw bytes with the binary tensor data extension (see
:mod:`runyard.serving.binary`). Errors are ``{"error": "..."}`` with 400 (bad input), 404
(unknown model, version or path), 405 (wrong method), 413 (too large) or 500 (the model
failed); no request can take the server down.

The handler runs on :class:`runyard.serving.http_server.HttpServer` (no framework): an
inference request is a few string comparisons away from its handler, which matters when the
model itself takes microseconds.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from runyard.errors import InvalidArgument, NotFound
from runyard.serving._memo import remember
from runyard.serving.binary import (
    HEADER,
    decode_inputs,
    encode_outputs,
    parse_header,
    requested_outputs,
    split_body,
)
from runyard.serving.codec import encode_json_output
from runyard.serving.http_server import FastHandler, Handler, HttpRequest, Reply, Respond
from runyard.serving.metrics import CONTENT_TYPE
from runyard.serving.model_pool import ServedModel
from runyard.serving.protocol import (
    Inference,
    model_metadata,
    server_metadata,
    status_of,
)

__all__ = ["HttpHandler", "create_http_handler"]

Arrays = dict[str, np.ndarray[Any, Any]]


@dataclass(frozen=True, slots=True)
class HttpHandler:
    """The REST front end: ``handle`` for any request, ``fast`` for inference without a task.

    ``fast`` is called by :class:`~runyard.serving.http_server.HttpServer` with a request
    read whole in one turn of the loop; it returns False for anything but an inference
    request (which then goes to ``handle``), and otherwise answers through ``respond``.
    """

    handle: Handler
    fast: FastHandler


_JSON = [(b"content-type", b"application/json")]
_OCTETS = b"application/octet-stream"
_JSON_OPTS = orjson.OPT_SERIALIZE_NUMPY
_HEADER_BYTES = HEADER.encode()


class _MethodNotAllowed(InvalidArgument):
    """The path exists; the method does not (405)."""


def _json(body: Any, status: int = 200) -> Reply:
    return status, _JSON, orjson.dumps(body, option=_JSON_OPTS)


def _infer_reply(
    served: ServedModel, doc: dict[str, Any], out: Arrays, flags: Any, default: bool
) -> Reply:
    if not flags and not default:  # the common case: every output as JSON
        entries = [encode_json_output(k, v) for k, v in out.items()]
        chunks: list[bytes] = []
    else:
        entries, chunks = encode_outputs(out, flags, default)
    answer: dict[str, Any] = {
        "model_name": served.name,
        "model_version": served.version,
        "outputs": entries,
    }
    if "id" in doc:
        answer["id"] = doc["id"]
    text = orjson.dumps(answer, option=_JSON_OPTS)
    if not chunks:
        return 200, _JSON, text
    headers = [(b"content-type", _OCTETS), (_HEADER_BYTES, str(len(text)).encode())]
    return 200, headers, b"".join([text, *chunks])


def _error(e: BaseException) -> Reply:
    status = 405 if isinstance(e, _MethodNotAllowed) else status_of(e)[0]
    return _json({"error": str(e) or type(e).__name__}, status)


def _check_encoding(request: HttpRequest) -> None:
    encoding = request.headers.get("content-encoding")
    if encoding not in (None, "identity"):
        raise InvalidArgument(f"Content-Encoding {encoding!r} is not supported; send it plain")


def create_http_handler(inference: Inference) -> HttpHandler:
    """The REST handler for a pool of models.

    Example:
        >>> from runyard.serving.http_server import HttpServer
        >>> handler = create_http_handler(inference)  # doctest: +SKIP
        >>> limit = inference.limits.max_request_bytes  # doctest: +SKIP
        >>> server = HttpServer(handler.handle, limit, fast=handler.fast)  # doctest: +SKIP
    """
    pool = inference.pool

    def start_infer(name: str, version: str | None, request: HttpRequest, respond: Respond) -> None:
        """Parse, check and queue one inference; ``respond`` gets its reply (maybe at once)."""
        started = time.perf_counter()
        try:
            _check_encoding(request)
            head, binary = split_body(request.body, request.headers.get(HEADER))
            doc = parse_header(head)
            requested, flags, default = requested_outputs(doc)
            tensors = decode_inputs(doc["inputs"], binary)
        except Exception as e:  # noqa: BLE001 - the server answers every request
            inference.record(name, "http", e, started)
            respond(_error(e))
            return

        def answer(served: ServedModel, out: Arrays | BaseException) -> None:
            error: BaseException | None = None
            try:
                if isinstance(out, BaseException):
                    raise out
                reply = _infer_reply(served, doc, out, flags, default)
            except Exception as e:  # noqa: BLE001 - the server answers every request
                error = e
                reply = _error(e)
            inference.record(name, "http", error, started)
            respond(reply)

        try:
            inference.submit(name, version, tensors, requested, answer)
        except Exception as e:  # noqa: BLE001 - bad input, unknown model: answered now
            inference.record(name, "http", e, started)
            respond(_error(e))

    async def infer(name: str, version: str | None, request: HttpRequest) -> Reply:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Reply] = loop.create_future()

        def respond(reply: Reply) -> None:
            if not done.done():
                done.set_result(reply)

        start_infer(name, version, request, respond)
        return await done

    def model_get(name: str, version: str | None, ready: bool) -> Reply:
        served = pool.get(name, version)
        if ready:
            return _json({"name": served.name, "ready": True})
        return _json(model_metadata(served))

    async def route(request: HttpRequest) -> Reply:
        method, path = request.method, request.path
        parts = path.strip("/").split("/")
        if parts[0] == "metrics" and len(parts) == 1:
            _expect(method, "GET")
            return 200, [(b"content-type", CONTENT_TYPE.encode())], inference.metrics.render()
        if parts[0] != "v2":
            raise NotFound(f"no such path {path!r}")
        rest = parts[1:]
        if not rest:
            _expect(method, "GET")
            return _json(server_metadata())
        if rest[0] == "health" and len(rest) == 2 and rest[1] in ("live", "ready"):
            _expect(method, "GET")
            if rest[1] == "live":
                return _json({"live": True})
            return _json({"ready": pool.ready}, 200 if pool.ready else 503)
        if rest[0] == "models" and len(rest) >= 2:
            name, tail = rest[1], rest[2:]
            version = None
            if len(tail) >= 2 and tail[0] == "versions":
                version, tail = tail[1], tail[2:]
            if not tail:
                _expect(method, "GET")
                return model_get(name, version, ready=False)
            if tail == ["ready"]:
                _expect(method, "GET")
                return model_get(name, version, ready=True)
            if tail == ["infer"]:
                _expect(method, "POST")
                return await infer(name, version, request)
        raise NotFound(f"no such path {path!r}")

    async def handle(request: HttpRequest) -> Reply:
        try:
            return await route(request)
        except Exception as e:  # noqa: BLE001 - every failure becomes an error body
            return _error(e)

    # path -> (model, version) of an inference path, or None; most requests name a path seen
    routes: dict[str, tuple[str, str | None] | None] = {}

    def fast(request: HttpRequest, respond: Respond) -> bool:
        # POST /v2/models/{m}[/versions/{v}]/infer: taken without a task (see HttpServer)
        if request.method != "POST":
            return False
        path = request.path
        try:
            target = routes[path]
        except KeyError:
            target = _infer_target(path)
            if len(path) <= 256:
                remember(routes, path, target, _ROUTES_MAX)
        if target is None:
            return False
        start_infer(target[0], target[1], request, respond)
        return True

    return HttpHandler(handle, fast)


_ROUTES_MAX = 1024


def _infer_target(path: str) -> tuple[str, str | None] | None:
    """(model, version or None) of ``/v2/models/{m}[/versions/{v}]/infer``, else None."""
    parts = path.strip("/").split("/")
    if len(parts) == 4 and parts[3] == "infer":
        version = None
    elif len(parts) == 6 and parts[3] == "versions" and parts[5] == "infer":
        version = parts[4]
    else:
        return None
    if parts[0] != "v2" or parts[1] != "models":
        return None
    return parts[2], version


def _expect(method: str, allowed: str) -> None:
    if method != allowed and not (allowed == "GET" and method == "HEAD"):
        raise _MethodNotAllowed(f"use {allowed} here, not {method}")
