"""The HTTP/1.1 server under the REST front end, spoken to over raw sockets and httpx."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from runyard.serving.http_server import HttpRequest, HttpServer, Reply, Respond
from tests.serving.conftest import free_port

FastHandler = Callable[[HttpRequest, Respond], bool]


async def _echo(req: HttpRequest) -> Reply:
    if req.path == "/boom":
        raise RuntimeError("handler bug")
    body = f"{req.method} {req.path} {len(req.body)}".encode()
    return 200, [(b"content-type", b"text/plain")], body


def _fast(req: HttpRequest, respond: Respond) -> bool:
    """Takes /fast-now (answered at once) and /fast-later (answered 50 ms on); declines the rest."""
    if not req.path.startswith("/fast"):
        return False
    reply: Reply = (
        200,
        [(b"content-type", b"text/plain")],
        f"FAST {req.path} {len(req.body)}".encode(),
    )
    if req.path == "/fast-later":
        asyncio.get_running_loop().call_later(0.05, respond, reply)
    else:
        respond(reply)
    return True


@pytest.fixture(params=[False, True], ids=["task-only", "with-fast-handler"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    """An HttpServer with a 1 KiB body limit on its own event loop thread."""
    yield from _serve(_fast if request.param else None)


def _serve(fast: FastHandler | None) -> Iterator[int]:
    """Run an HttpServer (1 KiB body limit) on its own event loop thread; yield its port."""
    loop = asyncio.new_event_loop()
    server = HttpServer(_echo, max_body=1024, fast=fast)
    p = free_port()
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start("127.0.0.1", p))
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    yield p
    asyncio.run_coroutine_threadsafe(server.shutdown(5), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_keep_alive_pipelining_and_query_strings(port: int) -> None:
    two = (
        b"POST /a%20b?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        b"GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    out = _raw(port, two)
    assert out.count(b"HTTP/1.1 200 OK") == 2  # both answered, in order, on one connection
    assert out.index(b"POST /a b 3") < out.index(b"GET /second 0")
    with httpx.Client() as c:  # and an ordinary client reuses its connection
        assert [c.get(f"http://127.0.0.1:{port}/n{i}").text for i in range(3)] == [
            "GET /n0 0",
            "GET /n1 0",
            "GET /n2 0",
        ]


def test_chunked_bodies_and_expect_continue(port: int) -> None:
    chunked = (
        b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"4\r\nwiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n"
    )
    assert b"POST /c 9" in _raw(port, chunked)
    expect = (
        b"POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
        b"Connection: close\r\n\r\nhi"
    )
    out = _raw(port, expect)
    assert out.startswith(b"HTTP/1.1 100 Continue\r\n\r\n") and b"POST /e 2" in out


def test_bad_requests_get_an_error_and_the_server_lives_on(port: int) -> None:
    assert _raw(port, b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert _raw(port, b"GET / HTTP/1.1\r\nno colon here\r\n\r\n").startswith(b"HTTP/1.1 400")
    # whitespace between a header name and its colon is refused (RFC 9112), fast path too
    spaced = b"POST /fast-now HTTP/1.1\r\nContent-Length : 2\r\n\r\nhi"
    assert _raw(port, spaced).startswith(b"HTTP/1.1 400")
    assert _raw(port, b"GET / HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 200")
    assert _raw(port, b"GET / HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 400")
    bad_length = b"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n"
    assert _raw(port, bad_length).startswith(b"HTTP/1.1 400")
    big = b"POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000
    out = _raw(port, big)
    assert out.startswith(b"HTTP/1.1 413") and b"limit" in out
    big_chunk = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2000\r\n" + b"x" * 8192
    assert _raw(port, big_chunk).startswith(b"HTTP/1.1 413")
    assert _raw(port, b"GET / HTTP/1.1\r\n" + b"X-Long: " + b"a" * 70_000).startswith(
        b"HTTP/1.1 431"
    )
    r = httpx.get(f"http://127.0.0.1:{port}/boom")
    assert r.status_code == 500 and "handler bug" in r.json()["error"]
    assert httpx.get(f"http://127.0.0.1:{port}/fine").text == "GET /fine 0"


@pytest.fixture
def fast_port() -> Iterator[int]:
    """An HttpServer with the fast handler (the parametrized fixture, fast case only)."""
    yield from _serve(_fast)


def _post(path: str, body: bytes = b"xy", close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    head = b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n" % (path.encode(), len(body))
    return head + extra + b"\r\n" + body


def test_fast_requests_and_task_requests_share_a_connection_in_order(fast_port: int) -> None:
    with httpx.Client() as c:  # one keep-alive connection, the two paths taking turns
        url = f"http://127.0.0.1:{fast_port}"
        answers = [
            c.get(f"{url}/a").text,
            c.post(f"{url}/fast-now", content=b"abc").text,
            c.post(f"{url}/fast-later", content=b"abcd").text,
            c.post(f"{url}/b", content=b"abcde").text,
            c.post(f"{url}/fast-now", content=b"").text,
        ]
    assert answers == [
        "GET /a 0",
        "FAST /fast-now 3",
        "FAST /fast-later 4",
        "POST /b 5",
        "FAST /fast-now 0",
    ]
    with socket.create_connection(("127.0.0.1", fast_port), timeout=5) as s:
        s.sendall(_post("/warm"))  # the first request of a connection goes to its task
        assert s.recv(65536).endswith(b"POST /warm 2")
        # pipelined behind a slow fast request: the task answers the rest after it, in order
        s.sendall(_post("/fast-later") + _post("/fast-now") + _post("/c", b"123", close=True))
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    out = b"".join(chunks)
    assert out.count(b"HTTP/1.1 200 OK") == 3
    first, second, third = (
        out.index(b"FAST /fast-later 2"),
        out.index(b"/fast-now 2"),
        out.index(b"POST /c 3"),
    )
    assert first < second < third
    assert out.rstrip().endswith(b"POST /c 3")  # and the connection closed after the last


def test_a_fast_request_asking_to_close_gets_its_answer_and_the_close(fast_port: int) -> None:
    with socket.create_connection(("127.0.0.1", fast_port), timeout=5) as s:
        s.sendall(_post("/warm"))
        assert s.recv(65536).endswith(b"POST /warm 2")
        s.sendall(_post("/fast-later", b"z", close=True))
        chunks = []
        while chunk := s.recv(65536):  # ends: the server closed the connection
            chunks.append(chunk)
    out = b"".join(chunks)
    assert out.startswith(b"HTTP/1.1 200 OK") and b"connection: close" in out
    assert out.endswith(b"FAST /fast-later 1")
