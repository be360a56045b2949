"""A small HTTP/1.1 server on asyncio protocols, for the REST front end.

Why not a general ASGI server: for a model that runs in microseconds, parsing HTTP in pure
Python (h11) and passing every request through ASGI middleware cost several times the
model itself. This server parses the request line and headers with ``bytes`` methods, reads
``Content-Length`` or chunked bodies, keeps connections alive (requests on one connection
are answered in order), answers ``Expect: 100-continue``, refuses bodies over the limit
with 413 before reading them, and answers malformed requests with 400 and a closed
connection. :meth:`HttpServer.shutdown` stops listening, lets every request already
received finish, and closes idle connections.

Each connection has a task that reads and answers its requests. An optional ``fast``
handler skips it: when a whole request (``Content-Length`` body, no ``Expect``) arrives on a
connection with nothing in progress, ``data_received`` offers it to ``fast``, which may take
it and answer later through a callback that writes the reply — no task wake-up before the
request is parsed, no future to resume after it is answered. Anything ``fast`` declines, and
anything that arrives while a request is in progress, goes to the connection's task.

Example:
    >>> async def handler(req: HttpRequest) -> Reply:
    ...     return 200, [(b"content-type", b"text/plain")], b"hi " + req.path.encode()
    >>> server = HttpServer(handler, max_body=1024)  # doctest: +SKIP
    >>> await server.start("127.0.0.1", 8000)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Literal, cast
from urllib.parse import unquote

import orjson

from runyard.serving._memo import remember

__all__ = ["FastHandler", "Handler", "HttpRequest", "HttpServer", "Reply", "Respond"]

log = logging.getLogger("runyard.serving")

Reply = tuple[int, list[tuple[bytes, bytes]], bytes]
"""(status, headers, body). A header list returned again must be unchanged (its encoding is
reused)."""
Handler = Callable[["HttpRequest"], Awaitable[Reply]]
Respond = Callable[[Reply], None]
FastHandler = Callable[["HttpRequest", Respond], bool]
"""Takes a request (True) and answers it through ``Respond``, now or later; or declines."""

_MAX_HEAD = 64 * 1024
_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}


@dataclass(slots=True)
class HttpRequest:
    """One parsed request: method, decoded path (no query), lower-case headers, body."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(status: int, message: str) -> Reply:
    return status, [(b"content-type", b"application/json")], orjson.dumps({"error": message})


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str], bool]:
    """(method, path, headers, HTTP/1.1?) of a request head (without the final CRLFCRLF)."""
    lines = head.decode("latin-1").split("\r\n")  # one decode for the whole head
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadRequest(400, "malformed request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _BadRequest(400, "malformed header line")
        key = name.lower()
        text = value.strip()
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    target = parts[1].partition("?")[0]
    path = unquote(target) if "%" in target else target
    return parts[0], path, headers, parts[2] == "HTTP/1.1"


_FastPlan = tuple[str, str, dict[str, str], int, bool] | Literal[False]
_FAST_HEADS: dict[bytes, _FastPlan] = {}
_FAST_HEADS_MAX = 1024
_FAST_HEAD_BYTES = 2048


def _fast_plan(head: bytes) -> _FastPlan:
    """(method, path, headers, Content-Length, keep-alive) of a head the fast path may take.

    False for one it leaves to the connection's task: malformed (the task answers the
    error), chunked, ``Expect``, or a bad ``Content-Length``. Remembered per head in
    ``_FAST_HEADS``: a client's requests usually differ in their bodies only (and in
    ``Content-Length``), so most heads are parsed once, not once per request.
    """
    try:
        method, path, headers, http11 = _parse_head(head)
    except _BadRequest:
        return False
    length_text = headers.get("content-length", "0")
    if "transfer-encoding" in headers or "expect" in headers or not length_text.isdigit():
        return False
    conn = headers.get("connection", "").lower()
    keep = ("close" not in conn) if http11 else ("keep-alive" in conn)
    return method, path, headers, int(length_text), keep


class _Connection(asyncio.Protocol):
    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self._busy = False
        self._closing = False
        self._loop = asyncio.get_running_loop()
        self._last_active = self._loop.time()
        self._wake: asyncio.Event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # True while the task waits for the first byte of a request: only then may
        # data_received hand a whole request to the server's fast handler
        self._at_rest = False
        self._task_has_it = True  # False while a fast request owns the buffer
        self._fast_need = 0  # bytes a partly received request needs before it is offered

    # -- asyncio callbacks ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (uvloop's is not a registered asyncio.Transport subclass)
        self._transport = cast(asyncio.Transport, transport)
        self._server.connections.add(self)
        self._task = asyncio.get_running_loop().create_task(self._serve())

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._server.connections.discard(self)
        self._wake.set()

    def data_received(self, data: bytes) -> None:
        self._last_active = self._loop.time()
        self._buf += data
        if self._at_rest and self._server.fast is not None:
            if len(self._buf) < self._fast_need:
                return  # the rest of a request the fast handler may take is on its way
            taken = self._take_fast()
            if taken is not False:
                return  # taken (True), or not whole yet (None): nothing for the task
            self._at_rest = False  # the task reads this request
            self._fast_need = 0
        if len(self._buf) > _MAX_HEAD + self._server.max_body and self._transport is not None:
            self._transport.pause_reading()  # backpressure: a request is being answered
        if self._task_has_it:  # else a fast request is in progress; its reply hands on
            self._wake.set()

    # -- the fast path ------------------------------------------------------------------------

    def _take_fast(self) -> bool | None:
        """Offer a whole buffered request to the fast handler.

        True: taken. False: declined, the task reads it. None: not whole yet (a client may
        send the head and the body in separate writes); ``_fast_need`` bytes are awaited.
        """
        buf, fast = self._buf, self._server.fast
        end = buf.find(b"\r\n\r\n")
        if fast is None or len(buf) > _MAX_HEAD + self._server.max_body:
            return False
        if end < 0:
            if len(buf) > _MAX_HEAD:
                return False  # the task answers 431
            self._fast_need = len(buf) + 1
            return None
        head = bytes(buf[:end])
        plan = _FAST_HEADS.get(head)
        if plan is None:
            plan = _fast_plan(head)
            if len(head) <= _FAST_HEAD_BYTES:  # remembered: at most ~2 MiB of heads
                remember(_FAST_HEADS, head, plan, _FAST_HEADS_MAX)
        if plan is False:
            return False  # the task answers it (or its error)
        method, path, headers, length, keep = plan
        start = end + 4
        if length > self._server.max_body:
            return False  # the task answers 413
        if len(buf) < start + length:
            self._fast_need = start + length
            return None
        self._fast_need = 0
        self._at_rest = False
        # a fresh header dict per request: the handler gets its own, as from _parse_head
        request = HttpRequest(method, path, headers.copy(), bytes(buf[start : start + length]))
        self._busy = True
        self._task_has_it = False
        if not fast(request, lambda reply: self._respond(reply, keep, start + length)):
            self._busy = False
            self._task_has_it = True
            return False
        return True

    def _respond(self, reply: Reply, keep: bool, used: int) -> None:
        """Write a fast request's reply, then let the next request (if any) go on."""
        del self._buf[:used]
        keep = keep and not self._server.stopping
        self._write(reply, keep)
        self._busy = False
        self._task_has_it = True
        if not keep:
            self._closing = True
            if self._transport is not None:
                self._transport.close()
            self._wake.set()
        elif self._buf:  # pipelined bytes arrived meanwhile: the task reads them in order
            self._wake.set()
        else:
            self._at_rest = True  # the task still waits for the first byte of a request

    # -- the request loop ---------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        return not self._busy and not self._buf

    def close_when_idle(self, grace: float) -> None:
        """Close once no request is in progress and none has started for ``grace`` seconds.

        The grace covers a request whose connection was accepted just before shutdown and
        whose bytes are still on their way.
        """
        quiet = asyncio.get_running_loop().time() - self._last_active
        if not (self.idle and quiet >= grace):
            return
        self._closing = True
        if self._transport is not None:
            self._transport.close()
        self._wake.set()

    async def _need(self, n: int) -> bool:
        """Wait until the buffer holds ``n`` bytes; False if the connection went away.

        Bytes that a fast request still owns do not count: the task waits for its reply.
        """
        while len(self._buf) < n or not self._task_has_it:
            if self._transport is None or self._transport.is_closing():
                return False
            self._transport.resume_reading()
            self._wake.clear()
            await self._wake.wait()
        return True

    async def _head(self) -> bytes | None:
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(self._buf[:end])
                del self._buf[: end + 4]
                return head
            if len(self._buf) > _MAX_HEAD:
                raise _BadRequest(431, "request head too large")
            if self._closing and not self._buf:
                return None
            self._at_rest = not self._buf and not self._busy
            ok = await self._need(len(self._buf) + 1)
            self._at_rest = False
            if not ok:
                return None

    async def _chunked(self) -> bytes:
        out = bytearray()
        while True:
            while (end := self._buf.find(b"\r\n")) < 0:
                if not await self._need(len(self._buf) + 1):
                    raise _BadRequest(400, "connection closed inside a chunked body")
            size_text = bytes(self._buf[:end]).split(b";")[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _BadRequest(400, "malformed chunk size") from None
            del self._buf[: end + 2]
            if size == 0:
                while (end := self._buf.find(b"\r\n")) != 0:  # trailers, up to an empty line
                    if end > 0:
                        del self._buf[: end + 2]
                    elif not await self._need(len(self._buf) + 1):
                        raise _BadRequest(400, "connection closed inside a chunked body")
                del self._buf[:2]
                return bytes(out)
            if len(out) + size > self._server.max_body:
                raise _BadRequest(
                    413, f"request body exceeds the limit of {self._server.max_body} bytes"
                )
            if not await self._need(size + 2):
                raise _BadRequest(400, "connection closed inside a chunked body")
            out += self._buf[:size]
            del self._buf[: size + 2]

    async def _read_request(self) -> tuple[HttpRequest, bool] | None:
        head = await self._head()
        if head is None:
            return None
        method, path, headers, http11 = _parse_head(head)
        conn = headers.get("connection", "").lower()
        keep = ("close" not in conn) if http11 else ("keep-alive" in conn)
        if headers.get("expect", "").lower() == "100-continue" and self._transport is not None:
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return HttpRequest(method, path, headers, await self._chunked()), keep
        length_text = headers.get("content-length", "0")
        if not length_text.isdigit():
            raise _BadRequest(400, f"bad Content-Length {length_text!r}")
        length = int(length_text)
        if length > self._server.max_body:
            raise _BadRequest(
                413, f"request body of {length} bytes exceeds the limit of {self._server.max_body}"
            )
        if not await self._need(length):
            return None
        body = bytes(self._buf[:length])
        del self._buf[:length]
        return HttpRequest(method, path, headers, body), keep

    def _write(self, reply: Reply, keep: bool, head_only: bool = False) -> None:
        status, headers, body = reply
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        server = self._server
        if headers is server.last_headers:  # a handler's constant header list: encoded once
            fields = server.last_fields
        else:
            fields = b"".join([b"%s: %s\r\n" % h for h in headers])
            server.last_headers, server.last_fields = headers, fields
        # one write, one send system call: status line, headers and body together
        transport.write(
            b"HTTP/1.1 %d %s\r\n%scontent-length: %d\r\n%s%s"
            % (
                status,
                _REASONS.get(status, b"Unknown"),
                fields,
                len(body),
                b"\r\n" if keep else b"connection: close\r\n\r\n",
                b"" if head_only else body,
            )
        )

    async def _serve(self) -> None:
        try:
            while not (self._closing and not self._buf):
                try:
                    got = await self._read_request()
                except _BadRequest as e:
                    self._write(_error(e.status, str(e)), keep=False)
                    break
                if got is None:
                    break
                request, keep = got
                self._busy = True
                try:
                    reply = await self._server.handler(request)
                except Exception as e:  # noqa: BLE001 - the handler should not raise; never crash
                    log.exception("HTTP handler failed")
                    reply = _error(500, str(e) or type(e).__name__)
                keep = keep and not self._server.stopping
                self._write(reply, keep, head_only=request.method == "HEAD")
                self._busy = False
                if not keep:
                    break
        finally:
            self._busy = False
            if self._transport is not None:
                self._transport.close()


class HttpServer:
    """Serves ``handler`` over HTTP/1.1 keep-alive connections."""

    def __init__(self, handler: Handler, max_body: int, fast: FastHandler | None = None) -> None:
        self.handler = handler
        self.fast = fast
        self.max_body = max_body
        self.connections: set[_Connection] = set()
        self.stopping = False
        # the header list of the last reply and its encoding (held, so never a reused id)
        self.last_headers: list[tuple[bytes, bytes]] | None = None
        self.last_fields = b""
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (raises OSError when it cannot)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self), host, port, reuse_address=True
        )

    async def shutdown(self, timeout: float) -> None:
        """Stop listening, answer every request already received, close the connections."""
        self.stopping = True
        if self._server is not None:
            self._server.close()
        deadline = asyncio.get_running_loop().time() + timeout
        while self.connections and asyncio.get_running_loop().time() < deadline:
            for conn in list(self.connections):
                conn.close_when_idle(grace=0.2)
            await asyncio.sleep(0.02)
        for conn in list(self.connections):
            if conn._transport is not None:
                conn._transport.abort()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)
