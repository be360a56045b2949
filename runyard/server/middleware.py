"""The ASGI middleware in front of every route: auth, body limits, and request telemetry."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runyard.server.auth import OPEN_PATHS, TokenVerifier, required_scope
from runyard.server.context import ServerContext
from runyard.server.errors import MLFLOW_PREFIX

__all__ = ["GuardMiddleware", "is_streamed_upload"]

_STREAMED_PREFIXES = ("/api/v1/artifacts/", f"{MLFLOW_PREFIX}mlflow-artifacts/artifacts/")


def is_streamed_upload(method: str, path: str) -> bool:
    """True for artifact uploads: streamed to the store, so the JSON body limit skips them."""
    return method == "PUT" and path.startswith(_STREAMED_PREFIXES)


class _TooLarge(Exception):
    """The request body passed the limit while it was being read."""


class GuardMiddleware:
    """Checks the token, enforces the body limit, and records each request."""

    def __init__(self, app: ASGIApp, ctx: ServerContext) -> None:
        self.app = app
        self.ctx = ctx
        self.verifier = TokenVerifier(ctx.store) if ctx.auth else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Guard one ASGI call."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        started = time.perf_counter()
        status_box = [500]
        overflow = [False]

        async def send_recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
            await send(message)

        async def send_checked(message: Message) -> None:
            # a body that passed the limit mid-stream may surface as the app's own 400;
            # answer 413 instead and drop what the app sends
            if overflow[0]:
                if message["type"] == "http.response.start":
                    await self._answer(send_recording, path, 413, *self._too_large())
                return
            await send_recording(message)

        try:
            refusal = await self._refusal(scope, method, path)
            if refusal is not None:
                await self._answer(send_recording, path, *refusal)
                return
            limited = self._limited_receive(receive, method, path, overflow)
            try:
                await self.app(scope, limited, send_checked)
            except _TooLarge:
                if status_box[0] == 500:
                    await self._answer(send_recording, path, 413, *self._too_large())
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.ctx.telemetry.observe(
                method, template, status_box[0], time.perf_counter() - started
            )

    def _too_large(self) -> tuple[str, str, str]:
        limit = self.ctx.max_body_bytes
        return ("PAYLOAD_TOO_LARGE", "REQUEST_LIMIT_EXCEEDED", f"request body over {limit} bytes")

    async def _refusal(
        self, scope: Scope, method: str, path: str
    ) -> tuple[int, str, str, str] | None:
        if not is_streamed_upload(method, path):
            for name, value in scope.get("headers", ()):
                if name == b"content-length":
                    try:
                        length = int(value)
                    except ValueError:
                        return (400, "INVALID_ARGUMENT", "BAD_REQUEST", "bad content-length")
                    if length > self.ctx.max_body_bytes:
                        return (413, *self._too_large())
        if self.verifier is None or path in OPEN_PATHS:
            return None
        token = _bearer(scope)
        if token is None:
            return (401, "UNAUTHENTICATED", "UNAUTHENTICATED", "a bearer token is required")
        from starlette.concurrency import run_in_threadpool

        granted = await run_in_threadpool(self.verifier.scope_of, token)
        if granted is None:
            return (401, "UNAUTHENTICATED", "UNAUTHENTICATED", "the token is unknown or revoked")
        needed = required_scope(method, path)
        if not self.verifier.grants(granted, needed):
            return (
                403,
                "PERMISSION_DENIED",
                "PERMISSION_DENIED",
                f"a {granted!r} token cannot do this; it needs scope {needed!r}",
            )
        return None

    def _limited_receive(
        self, receive: Receive, method: str, path: str, overflow: list[bool]
    ) -> Receive:
        if is_streamed_upload(method, path):
            return receive
        limit, seen = self.ctx.max_body_bytes, [0]

        async def limited() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen[0] += len(message.get("body", b""))
                if seen[0] > limit:
                    overflow[0] = True
                    raise _TooLarge
            return message

        return limited

    @staticmethod
    async def _answer(
        send: Send, path: str, status: int, code: str, mlflow_code: str, message: str
    ) -> None:
        body: dict[str, Any]
        if path.startswith(MLFLOW_PREFIX):
            body = {"error_code": mlflow_code, "message": message}
        else:
            body = {"error": {"code": code, "message": message, "details": {}}}
        payload = json.dumps(body).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(payload)),
        ]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            text: str = bytes(value).decode("latin-1")
            kind, _, token = text.partition(" ")
            if kind.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None
